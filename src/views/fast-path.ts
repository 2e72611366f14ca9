/**
 * A compiler for the FHIRPath that views use most, over plain JSON: member navigation (choice elements too),
 * `ofType` right after a choice element, `first()`, `last()`, `exists()`, `empty()`, `count()`, `not()`,
 * `where()`, `extension(url)`, `join()`, `getResourceKey()`, `getReferenceKey([type])`, indexers, literals,
 * variables, `=`, `!=`, `and`, `or` and `|`. It takes @medplum/core's parse tree and turns it into closures;
 * an expression with anything else is refused (undefined), and the view is then evaluated by @medplum/core's
 * FHIRPath engine throughout. Plain JSON values need no wrapping per node, which is what makes views over large
 * populations fast.
 */

/** What a variable or constant holds for the fast engine: the plain value, or nothing. */
export type FastVars = Record<string, unknown>;
export type FastFn = (input: unknown[], vars: FastVars, thisItem: unknown) => unknown[];

class Unsupported extends Error {}

interface AtomLike {
  original?: string;
  child?: AtomLike;
  name?: string;
  args?: AtomLike[];
  value?: { type: string; value: unknown };
  operator?: string;
  left?: AtomLike;
  right?: AtomLike;
  expr?: AtomLike;
  toString(): string;
}

/** Data types a choice element `x[x]` may take, as the suffix of its JSON key (`valueQuantity`). */
const CHOICE_TYPES = new Set(
  (
    'Base64Binary Boolean Canonical Code Date DateTime Decimal Id Instant Integer Integer64 Markdown Oid PositiveInt ' +
    'String Time UnsignedInt Uri Url Uuid Address Age Annotation Attachment CodeableConcept CodeableReference Coding ' +
    'ContactPoint Count Distance Duration HumanName Identifier Money Period Quantity Range Ratio RatioRange Reference ' +
    'SampledData Signature Timing ContactDetail Contributor DataRequirement Expression ParameterDefinition ' +
    'RelatedArtifact TriggerDefinition UsageContext Dosage Meta'
  ).split(' '),
);

const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

function member(item: unknown, name: string, out: unknown[]): void {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return;
  const o = item as Record<string, unknown>;
  let v = o[name];
  if (v === undefined) {
    // A choice element named without its type: the one `name<Type>` key present.
    if (/^[A-Z]/.test(name) && o.resourceType === name) {
      out.push(item);
      return;
    }
    for (const k in o) {
      if (k.length > name.length && k.startsWith(name) && CHOICE_TYPES.has(k.slice(name.length))) {
        v = o[k];
        break;
      }
    }
    if (v === undefined) return;
  }
  if (Array.isArray(v)) {
    for (const e of v) if (e !== null && e !== undefined) out.push(e);
  } else if (v !== null) {
    out.push(v);
  }
}

function navigate(input: unknown[], name: string): unknown[] {
  const out: unknown[] = [];
  for (const item of input) member(item, name, out);
  return out;
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** FHIRPath's singleton evaluation of a collection as a boolean: true, false, or undefined for empty. */
function truth(c: unknown[]): boolean | undefined {
  if (c.length === 0) return undefined;
  if (c.length > 1) throw new Error('a boolean operand has several items');
  const v = c[0];
  return typeof v === 'boolean' ? v : true;
}

const REFERENCE = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

function literal(atom: AtomLike): FastFn {
  const v = atom.value?.value;
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new Unsupported();
  const out = [v];
  return () => out;
}

function compileFunction(atom: AtomLike, target: FastFn | undefined): FastFn {
  const name = atom.name as string;
  const args = atom.args ?? [];
  const base: FastFn = target ?? ((input) => input);
  const noArgs = (): void => {
    if (args.length > 0) throw new Unsupported();
  };
  switch (name) {
    case 'first':
      noArgs();
      return (i, v, t) => base(i, v, t).slice(0, 1);
    case 'last':
      noArgs();
      return (i, v, t) => base(i, v, t).slice(-1);
    case 'count':
      noArgs();
      return (i, v, t) => [base(i, v, t).length];
    case 'empty':
      noArgs();
      return (i, v, t) => [base(i, v, t).length === 0];
    case 'not':
      noArgs();
      return (i, v, t) => {
        const b = truth(base(i, v, t));
        return b === undefined ? [] : [!b];
      };
    case 'exists': {
      if (args.length === 0) return (i, v, t) => [base(i, v, t).length > 0];
      if (args.length > 1) throw new Unsupported();
      const crit = compileAtom(args[0] as AtomLike);
      return (i, v, t) => [base(i, v, t).some((e) => truth(crit([e], v, e)) === true)];
    }
    case 'where': {
      if (args.length !== 1) throw new Unsupported();
      const crit = compileAtom(args[0] as AtomLike);
      return (i, v, t) => base(i, v, t).filter((e) => truth(crit([e], v, e)) === true);
    }
    case 'extension': {
      if (args.length !== 1) throw new Unsupported();
      const url = compileAtom(args[0] as AtomLike);
      return (i, v, t) => {
        const u = url(i, v, t)[0];
        return navigate(base(i, v, t), 'extension').filter((e) => (e as { url?: unknown }).url === u);
      };
    }
    case 'join': {
      if (args.length > 1) throw new Unsupported();
      const sep = args[0] ? compileAtom(args[0]) : () => [''];
      return (i, v, t) => {
        const items = base(i, v, t);
        if (items.length === 0) return [];
        const s = sep(i, v, t)[0];
        if (typeof s !== 'string') throw new Error('join: the separator must be a string');
        return [items.map((x) => String(x)).join(s)];
      };
    }
    case 'getResourceKey':
      noArgs();
      return (i, v, t) =>
        base(i, v, t)
          .map((r) => (r !== null && typeof r === 'object' ? (r as { id?: unknown }).id : undefined))
          .filter((id) => typeof id === 'string');
    case 'getReferenceKey': {
      if (args.length > 1) throw new Unsupported();
      const typeArg = args[0];
      if (typeArg && (typeArg.name === undefined || typeArg.args !== undefined)) throw new Unsupported();
      const wanted = typeArg?.name;
      return (i, v, t) => {
        const out: unknown[] = [];
        for (const r of base(i, v, t)) {
          const ref = r !== null && typeof r === 'object' ? (r as { reference?: unknown }).reference : undefined;
          if (typeof ref !== 'string') continue;
          const m = REFERENCE.exec(ref);
          if (!m || (wanted !== undefined && m[1] !== wanted)) continue;
          out.push(m[2]);
        }
        return out;
      };
    }
    default:
      throw new Unsupported();
  }
}

function compileAtom(atom: AtomLike): FastFn {
  // FhirPathAtom (the whole expression): evaluated per input item with $this.
  if (atom.original !== undefined && atom.child) return compileAtom(atom.child);
  if (atom.operator !== undefined && atom.left && atom.right) return compileInfix(atom);
  if (atom.expr && atom.left) {
    const left = compileAtom(atom.left);
    const index = compileAtom(atom.expr);
    return (i, v, t) => {
      const n = index(i, v, t)[0];
      if (typeof n !== 'number') return [];
      const items = left(i, v, t);
      return n >= 0 && n < items.length ? [items[n]] : [];
    };
  }
  if (atom.args !== undefined && atom.name !== undefined) return compileFunction(atom, undefined);
  if (atom.value !== undefined && typeof atom.value === 'object' && atom.value !== null && 'type' in atom.value) return literal(atom);
  if (atom.name !== undefined) {
    const name = atom.name;
    if (name === '$this') return (_i, _v, t) => (t === undefined ? [] : [t]);
    if (name.startsWith('%')) {
      return (_i, v) => {
        if (!(name in v)) throw new Error(`undefined variable ${name}`);
        const x = v[name];
        return x === undefined || x === null ? [] : [x];
      };
    }
    if (name.startsWith('$')) throw new Unsupported();
    return (input) => navigate(input, name);
  }
  if (atom.toString() === '{}') return () => [];
  throw new Unsupported();
}

function compileInfix(atom: AtomLike): FastFn {
  const op = atom.operator as string;
  const leftAtom = atom.left as AtomLike;
  const rightAtom = atom.right as AtomLike;
  if (op === '.') {
    const left = compileAtom(leftAtom);
    // `x.choice.ofType(T)`: the key `choiceT`.
    if (rightAtom.name === 'ofType' && rightAtom.args?.length === 1) {
      const t = rightAtom.args[0] as AtomLike;
      if (t.name === undefined || t.args !== undefined || !/^[A-Za-z]+$/.test(t.name)) throw new Unsupported();
      if (leftAtom.operator === '.' && leftAtom.right?.name !== undefined && leftAtom.right.args === undefined) {
        const owner = compileAtom(leftAtom.left as AtomLike);
        const key = `${leftAtom.right.name}${capitalize(t.name)}`;
        return (i, v, tt) => navigate(owner(i, v, tt), key);
      }
      if (leftAtom.name !== undefined && leftAtom.args === undefined && leftAtom.operator === undefined && !leftAtom.name.startsWith('%') && !leftAtom.name.startsWith('$')) {
        const key = `${leftAtom.name}${capitalize(t.name)}`;
        return (i) => navigate(i, key);
      }
      throw new Unsupported();
    }
    if (rightAtom.args !== undefined && rightAtom.name !== undefined) return compileFunction(rightAtom, left);
    if (rightAtom.name !== undefined && rightAtom.operator === undefined && rightAtom.expr === undefined) {
      const name = rightAtom.name;
      if (name.startsWith('%') || name.startsWith('$')) throw new Unsupported();
      return (i, v, t) => navigate(left(i, v, t), name);
    }
    const right = compileAtom(rightAtom);
    return (i, v, t) => right(left(i, v, t), v, t);
  }
  const left = compileAtom(leftAtom);
  const right = compileAtom(rightAtom);
  switch (op) {
    case '=':
    case '!=': {
      const negate = op === '!=';
      return (i, v, t) => {
        const a = left(i, v, t);
        const b = right(i, v, t);
        if (a.length === 0 || b.length === 0) return [];
        let eq = a.length === b.length;
        for (let k = 0; eq && k < a.length; k++) {
          const x = a[k];
          const y = b[k];
          // Dates of differing precision do not compare (FHIRPath: empty).
          if (typeof x === 'string' && typeof y === 'string' && x.length !== y.length && /^\d{4}-\d\d/.test(x) && /^\d{4}-\d\d/.test(y)) {
            return [];
          }
          eq = same(x, y);
        }
        return [negate ? !eq : eq];
      };
    }
    case 'and':
      return (i, v, t) => {
        const a = truth(left(i, v, t));
        if (a === false) return [false];
        const b = truth(right(i, v, t));
        if (b === false) return [false];
        return a === true && b === true ? [true] : [];
      };
    case 'or':
      return (i, v, t) => {
        const a = truth(left(i, v, t));
        if (a === true) return [true];
        const b = truth(right(i, v, t));
        if (b === true) return [true];
        return a === false && b === false ? [false] : [];
      };
    case '|':
      return (i, v, t) => {
        const out: unknown[] = [];
        for (const x of [...left(i, v, t), ...right(i, v, t)]) if (!out.some((y) => same(x, y))) out.push(x);
        return out;
      };
    default:
      throw new Unsupported();
  }
}

/** Compiles a parsed FHIRPath expression for the fast engine, or undefined when it uses more than it covers. */
export function compileFast(parsed: unknown): FastFn | undefined {
  try {
    const fn = compileAtom(parsed as AtomLike);
    return (input, vars, thisItem) => fn(input, vars, thisItem);
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}

/** What a scalar accessor answers when the path may yield more than one value (the collection form decides). */
export const SEVERAL: unique symbol = Symbol('several values');

/**
 * A path compiled for a single value: the value (plain JSON), undefined for an empty result, or SEVERAL when it
 * meets more than one item, in which case the collection form (compileFast) gives the answer or the error.
 */
export type ScalarFn = (item: unknown) => unknown;

type Step =
  | { kind: 'member'; name: string; upper: boolean; first: boolean }
  | { kind: 'first' }
  | { kind: 'resourceKey' }
  | { kind: 'referenceKey'; type: string | undefined };

const SELF: unique symbol = Symbol('self');

/** member() for one object: its raw value under `name` (a choice element without its type too), or SELF. */
function memberValue(o: Record<string, unknown>, name: string, upper: boolean): unknown {
  const v = o[name];
  if (v !== undefined) return v;
  if (upper && o.resourceType === name) return SELF;
  for (const k in o) {
    if (k.length > name.length && k.startsWith(name) && CHOICE_TYPES.has(k.slice(name.length))) return o[k];
  }
  return undefined;
}

function scalarSteps(atom: AtomLike, steps: Step[]): void {
  if (atom.original !== undefined && atom.child) return scalarSteps(atom.child, steps);
  if (atom.operator === '.' && atom.left && atom.right) {
    const right = atom.right;
    if (right.name === 'ofType' && right.args?.length === 1) {
      // `x.choice.ofType(T)` or `choice.ofType(T)`: the key `choiceT`, as compileInfix reads it.
      const t = right.args[0] as AtomLike;
      if (t.name === undefined || t.args !== undefined || !/^[A-Za-z]+$/.test(t.name)) throw new Unsupported();
      const left = atom.left;
      if (left.operator === '.' && left.right?.name !== undefined && left.right.args === undefined && left.left) {
        scalarSteps(left.left, steps);
        const key = `${left.right.name}${capitalize(t.name)}`;
        steps.push({ kind: 'member', name: key, upper: /^[A-Z]/.test(key), first: false });
        return;
      }
      if (left.name !== undefined && left.args === undefined && left.operator === undefined && !left.name.startsWith('%') && !left.name.startsWith('$')) {
        const key = `${left.name}${capitalize(t.name)}`;
        steps.push({ kind: 'member', name: key, upper: /^[A-Z]/.test(key), first: false });
        return;
      }
      throw new Unsupported();
    }
    scalarSteps(atom.left, steps);
    if (right.operator !== undefined || right.expr !== undefined || right.original !== undefined) throw new Unsupported();
    scalarSteps(right, steps);
    return;
  }
  if (atom.operator !== undefined || atom.expr !== undefined || atom.value !== undefined) throw new Unsupported();
  const name = atom.name;
  if (name === undefined) throw new Unsupported();
  if (atom.args !== undefined) {
    const args = atom.args;
    if (name === 'first' && args.length === 0) {
      const last = steps[steps.length - 1];
      if (last?.kind === 'member' && !last.first) last.first = true;
      else steps.push({ kind: 'first' });
      return;
    }
    if (name === 'getResourceKey' && args.length === 0) {
      steps.push({ kind: 'resourceKey' });
      return;
    }
    if (name === 'getReferenceKey' && args.length <= 1) {
      const typeArg = args[0];
      if (typeArg && (typeArg.name === undefined || typeArg.args !== undefined)) throw new Unsupported();
      steps.push({ kind: 'referenceKey', type: typeArg?.name });
      return;
    }
    throw new Unsupported();
  }
  if (name === '$this') return;
  if (name.startsWith('%') || name.startsWith('$')) throw new Unsupported();
  steps.push({ kind: 'member', name, upper: /^[A-Z]/.test(name), first: false });
}

/** What generated accessors reach: the helpers they call and the markers they answer. */
const HELPERS = { memberValue, SELF, SEVERAL, REFERENCE };

/**
 * The source of an accessor running `steps` over one item, with the keys as string literals, so that every
 * property read is a site of its own (which V8 keeps fast) and no collection is built.
 */
function stepsSource(steps: readonly Step[]): string {
  const lines = ['let v = item, c, e, n, found;'];
  for (const step of steps) {
    switch (step.kind) {
      case 'member': {
        const key = JSON.stringify(step.name);
        lines.push(
          "if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;",
          `c = v[${key}];`,
          `if (c === undefined) { c = h.memberValue(v, ${key}, ${step.upper}); if (c === h.SELF) c = v; }`,
          'if (c === undefined || c === null) return undefined;',
          step.first
            ? 'if (Array.isArray(c)) { v = undefined; for (let k = 0; k < c.length; k++) { e = c[k]; if (e !== null && e !== undefined) { v = e; break; } } if (v === undefined) return undefined; } else v = c;'
            : 'if (Array.isArray(c)) { n = 0; for (let k = 0; k < c.length; k++) { e = c[k]; if (e !== null && e !== undefined) { if (n++ === 0) found = e; else return h.SEVERAL; } } if (n === 0) return undefined; v = found; } else v = c;',
        );
        break;
      }
      case 'first':
        break;
      case 'resourceKey':
        lines.push("v = v !== null && typeof v === 'object' ? v.id : undefined;", "if (typeof v !== 'string') return undefined;");
        break;
      case 'referenceKey':
        lines.push(
          "c = v !== null && typeof v === 'object' ? v.reference : undefined;",
          "if (typeof c !== 'string') return undefined;",
          'c = h.REFERENCE.exec(c);',
          step.type !== undefined ? `if (c === null || c[1] !== ${JSON.stringify(step.type)}) return undefined;` : 'if (c === null) return undefined;',
          'v = c[2];',
        );
        break;
    }
  }
  lines.push('return v;');
  return lines.join('\n');
}

/**
 * Compiles a path made of member navigation, `first()`, `ofType()` on a choice element, `getResourceKey()` and
 * `getReferenceKey()` (most columns of most views) into a scalar accessor: no collection is built on the way.
 * Undefined for any other path. `{}` (the empty collection) compiles to an accessor answering nothing.
 */
export function compileScalar(parsed: unknown): ScalarFn | undefined {
  const atom = parsed as AtomLike;
  const body = atom.original !== undefined && atom.child ? atom.child : atom;
  if (body.toString() === '{}' && body.name === undefined && body.operator === undefined) return () => undefined;
  const steps: Step[] = [];
  try {
    scalarSteps(atom, steps);
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
  // The keys are JSON string literals and the steps a fixed vocabulary: the generated code runs nothing else.
  return new Function('h', `return function scalar(item) {\n${stepsSource(steps)}\n};`)(HELPERS) as ScalarFn;
}
