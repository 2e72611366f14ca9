import { describe, expect, it } from 'vitest';
import { compileFast, compileScalar, SEVERAL } from './fast-path.js';
import { medplum } from '../fhir/medplum.js';

const { parseFhirPath } = medplum();

const resources: Record<string, unknown>[] = [
  {
    resourceType: 'Observation',
    id: 'o1',
    status: 'final',
    code: { coding: [null, { system: 's', code: 'c1', display: 'one' }, { code: 'c2' }] },
    subject: { reference: 'Patient/p1' },
    encounter: { reference: 'https://x.example/fhir/Encounter/e1/_history/2' },
    valueQuantity: { value: 12.5, code: 'mg' },
    component: [{ code: { coding: [{ code: 'k1' }] } }, { code: { coding: [{ code: 'k2' }] } }],
    name: [],
    note: [null],
  },
  { resourceType: 'Observation', id: 7, valueString: 'x', subject: { reference: 'Group/g1' }, code: 'not an object', status: null },
  { resourceType: 'Patient', deceasedBoolean: false, Patient: undefined, category: [[{ code: 'nested' }]], subject: { reference: 42 } },
];

const paths = [
  'status',
  'id',
  'getResourceKey()',
  'subject.getReferenceKey()',
  'subject.getReferenceKey(Patient)',
  'encounter.getReferenceKey(Encounter)',
  'code.coding.first().code',
  'code.coding.code',
  'code.coding.first().system',
  'code.coding',
  'component.code.coding.first().code',
  'component.first().code.coding.first().code',
  'value.ofType(Quantity).value',
  'value.ofType(string)',
  'value',
  'valueQuantity.code',
  'deceased.ofType(boolean)',
  'deceased',
  'Patient.deceased',
  'Observation.status',
  'name.first()',
  'note',
  'category.code',
  '$this.status',
  'first().id',
];

/** The collection engine's answer as a single value: undefined (empty), the value, or SEVERAL. */
function viaCollection(path: string, resource: unknown): unknown {
  const fn = compileFast(parseFhirPath(path)) as NonNullable<ReturnType<typeof compileFast>>;
  const out = fn([resource], {}, resource);
  return out.length === 0 ? undefined : out.length === 1 ? out[0] : SEVERAL;
}

describe('scalar accessors', () => {
  for (const path of paths) {
    it(`${path} answers as the collection engine does, or defers to it`, () => {
      const scalar = compileScalar(parseFhirPath(path));
      expect(scalar).toBeTypeOf('function');
      for (const r of resources) {
        const want = viaCollection(path, r);
        const got = scalar?.(r);
        // SEVERAL defers to the collection engine; it is the only answer when that engine finds several.
        if (got !== SEVERAL || want === SEVERAL) expect(got).toEqual(want);
      }
    });
  }

  it('are not made for paths beyond their vocabulary', () => {
    for (const path of ["name.where(use = 'official').family", 'given.join(\' \')', 'code.coding[0].code', '%resource.id', 'a | b', 'x.exists()', "'text'"]) {
      expect(compileScalar(parseFhirPath(path))).toBeUndefined();
    }
  });

  it('defer when an array meets no first() until later', () => {
    expect(compileScalar(parseFhirPath('component.code.coding.first().code'))?.(resources[0])).toBe(SEVERAL);
  });

  it('compile {} to an empty answer', () => {
    expect(compileScalar(parseFhirPath('{}'))?.(resources[0])).toBeUndefined();
  });

  it('embed keys as literals, whatever they hold', () => {
    const scalar = compileScalar(parseFhirPath('`a"b\\\\`.`c\'d`'));
    expect(scalar?.({ 'a"b\\': { "c'd": 'ok' } })).toBe('ok');
  });
});
