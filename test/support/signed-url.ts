/**
 * Forgeries of signed URLs for refusal tests. A forgery must always differ from the original:
 * overwriting a character with a fixed one leaves the URL valid whenever it already held that one.
 */

/**
 * The URL with one character of a query parameter (the last, by default) replaced by a different one.
 * For a base64 value pick a position away from the end: its last character may hold only padding bits.
 */
export function withAlteredParam(url: string, name: string, position = -1): string {
  const altered = new URL(url);
  const value = altered.searchParams.get(name);
  if (value === null || value.length === 0) throw new Error(`${name} is not in ${altered.origin}${altered.pathname}`);
  const index = position < 0 ? value.length + position : position;
  const replacement = value[index] === '0' ? '1' : '0';
  altered.searchParams.set(name, `${value.slice(0, index)}${replacement}${value.slice(index + 1)}`);
  return altered.href;
}
