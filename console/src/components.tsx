import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errorText, get } from './api.js';

let fieldIds = 0;
/** A stable id for a label/control pair. */
export function useId(prefix: string): string {
  const ref = useRef<string | undefined>(undefined);
  ref.current ??= `${prefix}-${++fieldIds}`;
  return ref.current;
}

/** Loads `path` (again whenever it or `reloadKey` changes); `reload()` fetches again. */
export function useResource<T>(path: string | undefined, reloadKey: unknown = 0): { data: T | undefined; error: string | undefined; reload: () => void; loading: boolean } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(false);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) {
      setData(undefined);
      return;
    }
    let live = true;
    setLoading(true);
    get<T>(path)
      .then((d) => {
        if (!live) return;
        setData(d);
        setError(undefined);
      })
      .catch((e: unknown) => live && setError(errorText(e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [path, reloadKey, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, reload, loading };
}

/** What a page's actions come to: the notice of the last one that succeeded, the error of the last one that failed. */
export interface Actions {
  notice: string | undefined;
  error: string | undefined;
  /** Clears the error, runs the action and shows the notice it returns (if any), or the error it fails with (and no notice). */
  run: (action: () => Promise<string | undefined | void>) => Promise<void>;
  /** Shows an error found before any request (a field left empty). */
  fail: (message: string) => void;
}

export function useActions(): Actions {
  const [notice, setNotice] = useState<string>();
  const [error, setError] = useState<string>();
  const run = async (action: () => Promise<string | undefined | void>): Promise<void> => {
    setError(undefined);
    try {
      const text = await action();
      if (typeof text === 'string') setNotice(text);
    } catch (err) {
      setNotice(undefined);
      setError(errorText(err));
    }
  };
  const fail = (message: string): void => {
    setNotice(undefined);
    setError(message);
  };
  return { notice, error, run, fail };
}

/** Calls `fn` every `ms` while `active`. */
export function useInterval(fn: () => void, ms: number, active: boolean): void {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => saved.current(), ms);
    return () => clearInterval(t);
  }, [ms, active]);
}

export function ErrorBox({ error }: { error: string | undefined }) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null;
}

export function Notice({ text }: { text: string | undefined }) {
  return text ? (
    <p class="notice" role="status">
      {text}
    </p>
  ) : null;
}

export function TextField(props: {
  label: string;
  value: string;
  onInput: (v: string) => void;
  type?: 'text' | 'password' | 'url' | 'search' | 'datetime-local';
  placeholder?: string;
  required?: boolean;
  name?: string;
  hint?: string;
  autocomplete?: string;
}) {
  const id = useId(props.name ?? 'f');
  const hintId = `${id}-hint`;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={(props.type ?? 'text') as 'text'}
        value={props.value}
        placeholder={props.placeholder}
        required={props.required}
        autocomplete={props.autocomplete ?? 'off'}
        aria-describedby={props.hint ? hintId : undefined}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
      />
      {props.hint && (
        <div id={hintId} class="muted">
          {props.hint}
        </div>
      )}
    </div>
  );
}

export function TextArea(props: { label: string; value: string; onInput: (v: string) => void; name?: string; hint?: string; rows?: number }) {
  const id = useId(props.name ?? 'ta');
  const hintId = `${id}-hint`;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <textarea
        id={id}
        name={props.name}
        rows={props.rows ?? 4}
        value={props.value}
        aria-describedby={props.hint ? hintId : undefined}
        onInput={(e) => props.onInput((e.target as HTMLTextAreaElement).value)}
      />
      {props.hint && (
        <div id={hintId} class="muted">
          {props.hint}
        </div>
      )}
    </div>
  );
}

export function Select(props: { label: string; value: string; onChange: (v: string) => void; options: { value: string; label: string }[]; name?: string }) {
  const id = useId(props.name ?? 'sel');
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select id={id} name={props.name} value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        {props.options.map((o) => (
          <option value={o.value} key={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A modal confirmation (native dialog: focus is trapped and Escape cancels). */
export function Confirm(props: { open: boolean; title: string; children: ComponentChildren; confirmLabel: string; onConfirm: () => void; onCancel: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  const titleId = useId('dlg');
  return (
    <dialog ref={ref} aria-labelledby={titleId} onCancel={props.onCancel}>
      <h2 id={titleId}>{props.title}</h2>
      {props.children}
      <div class="actions">
        <button type="button" class="danger" onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
        <button type="button" class="secondary" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}

export const fmtNumber = (n: number | undefined | null): string => (n === undefined || n === null ? '—' : n.toLocaleString('en-US'));

export function fmtBytes(n: number | undefined | null): string {
  if (n === undefined || n === null) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function fmtTime(t: string | number | undefined | null): string {
  if (t === undefined || t === null || t === '') return '—';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** Lines or commas of pasted ids → the ids. */
export const splitIds = (text: string): string[] =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
