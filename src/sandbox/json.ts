/** A JSON value as text: strings as they are, numbers printed, anything else empty. */
export function text(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}
