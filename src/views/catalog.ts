import { invalid, notFound } from '../fhir/errors.js';
import type { StoredView, ViewStore } from '../store/ports.js';
import { compileView, type CompiledView } from './evaluate.js';
import { LIBRARY_VIEWS } from './library.js';
import type { ViewDefinition } from './view-definition.js';

const VIEW_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
export const VIEW_NAME_RULE = 'a view name is 1 to 64 letters, digits and "_", starting with a letter';

export const isViewName = (v: unknown): v is string => typeof v === 'string' && VIEW_NAME.test(v);

/** The ViewDefinition as the server keeps it: `resourceType` and `id` (its name) set. */
export function storedDefinition(view: StoredView): ViewDefinition {
  return JSON.parse(view.definition) as ViewDefinition;
}

/**
 * Validates a ViewDefinition (it must compile) and stores it for a tenant under `name`, or the view's own `name`.
 * Returns the stored view and whether it was new.
 */
export async function saveView(
  views: ViewStore,
  tenant: string,
  input: unknown,
  options: { name?: string; now: number },
): Promise<{ view: StoredView; created: boolean }> {
  const compiled = compileView(input);
  const name = options.name ?? compiled.definition.name;
  if (!isViewName(name)) throw invalid(`The view needs a name usable as a table name (${VIEW_NAME_RULE}); got ${JSON.stringify(name)}.`);
  const definition = { ...compiled.definition, resourceType: 'ViewDefinition' as const, id: name, name };
  const url = typeof definition.url === 'string' && definition.url !== '' ? definition.url : null;
  const view: StoredView = {
    tenant,
    name,
    url,
    resource: compiled.resource,
    definition: JSON.stringify(definition),
    createdAt: options.now,
    updatedAt: options.now,
  };
  const created = await views.putView(view);
  return { view, created };
}

/** A stored view by name, compiled. */
export async function loadView(views: ViewStore, tenant: string, name: string): Promise<CompiledView> {
  const stored = isViewName(name) ? await views.getView(tenant, name) : undefined;
  if (!stored) throw notFound(`ViewDefinition/${name} was not found.`);
  return compileView(storedDefinition(stored));
}

/** A view the tenant stored under this canonical url (a `|version` suffix ignored), else a shipped view's. */
export async function resolveCanonical(views: ViewStore, tenant: string, canonical: string): Promise<ViewDefinition | undefined> {
  const url = canonical.split('|')[0] as string;
  const stored = await views.findViewByUrl(tenant, url);
  if (stored) return storedDefinition(stored);
  return LIBRARY_VIEWS.find((v) => v.url === url);
}

export const libraryView = (name: string): ViewDefinition | undefined => LIBRARY_VIEWS.find((v) => v.name === name);
