/** A JSON object (not null, not an array). */
export type Json = Record<string, unknown>;

/** A JSON value as text: strings as they are, numbers printed, anything else empty. */
export function text(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}

/** Whether a value is a JSON object. */
export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object members of a JSON array; anything that is not an array, and members that are not objects, are left out. */
export function objects(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

/** A member that is an object, or undefined. */
export function object(value: unknown): Json | undefined {
  return isObject(value) ? value : undefined;
}

/** The resources of a Bundle's entries (none for anything that is not one). */
export function entryResources(bundle: unknown): Json[] {
  return isObject(bundle)
    ? objects(bundle.entry).flatMap((e) => (isObject(e.resource) ? [e.resource] : []))
    : [];
}
