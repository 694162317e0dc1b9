/**
 * JSON with every non-ASCII character escaped as `\\uXXXX`, so `fetch` accepts it as a header value
 * (the gateway decodes it). JSON itself escapes CR, LF and NUL, so the result is always header-safe.
 */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
