/**
 * What the gateway said about a call, from whatever carries its response headers: a `Response`,
 * an `openai` / portkey-ai error, a portkey-ai result, an AI SDK result or `APICallError`. Shared by
 * the `openai`, `portkey-ai` and `ai-sdk` entries.
 */
import { type PortkeyResponseMetadata, readPortkeyResponseHeaders } from './gateway-fetch.js';

export type { PortkeyResponseMetadata } from './gateway-fetch.js';

/** Anything that carries a gateway response's headers. */
export type PortkeyResponseSource =
  /** A `Response` (`.withResponse()`'s `response`, a stream's `response`), an `openai` `APIError`, a portkey-ai error. */
  | { headers?: Headers | Record<string, string | string[] | undefined> | null | undefined }
  /** A portkey-ai result: `getHeaders()` gives Portkey's headers without their `x-portkey-` prefix. */
  | { getHeaders(): Record<string, string | null | undefined> | null | undefined }
  /** An AI SDK result: `generateText`, `generateObject`, one of `result.steps`. */
  | { response?: { headers?: Record<string, string | undefined> } | undefined }
  /** The AI SDK's `APICallError` of a failed call. */
  | { responseHeaders?: Record<string, string | undefined> };

const PREFIX = 'x-portkey-';

/**
 * What the gateway said about a call, from its response headers: trace ID, provider, retry count,
 * cache status, which config target answered. Typed, and `undefined` when `source` carries no headers.
 *
 * @param source - a response (`const { data, response } = await client.chat.completions.create(…).withResponse()`,
 *   `await streamText(…).response`), the error a failed call threw (`openai`, portkey-ai, the AI
 *   SDK's `APICallError`), a portkey-ai result (`getHeaders()`), or an AI SDK result.
 *
 * @example
 * ```ts
 * const { data, response } = await client.chat.completions.create(body).withResponse();
 * portkeyResponseMetadata(response)?.cacheStatus; // 'HIT', 'MISS', …
 * ```
 */
export function portkeyResponseMetadata(source: PortkeyResponseSource | null | undefined): PortkeyResponseMetadata | undefined {
  if (source === null || typeof source !== 'object') return undefined;
  if ('getHeaders' in source && typeof source.getHeaders === 'function') {
    const stripped = source.getHeaders();
    if (!stripped || typeof stripped !== 'object') return undefined;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(stripped)) if (typeof value === 'string') headers[PREFIX + name.toLowerCase()] = value;
    return readPortkeyResponseHeaders(headers);
  }
  const headers =
    'headers' in source
      ? source.headers
      : 'response' in source
        ? source.response?.headers
        : 'responseHeaders' in source
          ? source.responseHeaders
          : undefined;
  if (headers === null || typeof headers !== 'object') return undefined;
  return readPortkeyResponseHeaders(headers as Headers | Record<string, string | string[] | undefined>);
}
