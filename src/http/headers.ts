/** Headers as Node and the stored exchanges hold them: a name (lower case) to one value or several. */
export type HeaderMap = Readonly<Record<string, string | readonly string[] | undefined>>;

/** The first value of a header, or undefined. */
export function header(headers: HeaderMap | undefined, name: string): string | undefined {
  const value = headers?.[name];
  return typeof value === 'string' ? value : value?.[0];
}
