/**
 * JSON with every non-ASCII character escaped as `\uXXXX`, so `fetch` accepts it as a header value
 * (the gateway decodes it). JSON itself escapes CR, LF and NUL, so the result is always header-safe.
 */
export function asciiJson(value: unknown): string {
  const json = JSON.stringify(value);
  return NON_ASCII.test(json) ? json.replace(NON_ASCII_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
}

const NON_ASCII = /[\u007f-\uffff]/;
const NON_ASCII_ALL = /[\u007f-\uffff]/g;
