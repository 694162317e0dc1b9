/**
 * What the gateway said about a call, read from the response headers the AI SDK keeps on its
 * results (`result.response.headers`; for a stream, `(await result.response).headers`) and on the
 * `APICallError` of a failed call (`error.responseHeaders`).
 */
import { type PortkeyResponseMetadata, readPortkeyResponseHeaders } from '../../src/gateway-fetch.js';

export type { PortkeyResponseMetadata } from '../../src/gateway-fetch.js';

/** Response headers as the AI SDK gives them. */
type ResponseHeaders = Record<string, string | undefined>;

/** Anything of the AI SDK's that carries a gateway response's headers. */
export type PortkeyResponseSource =
  /** A response: `result.response`, `await streamText(…).response`. */
  | { headers?: ResponseHeaders }
  /** A result: `generateText`, `generateObject`, one of `result.steps`. */
  | { response?: { headers?: ResponseHeaders } | undefined }
  /** The `APICallError` a failed call threw. */
  | { responseHeaders?: ResponseHeaders };

/**
 * What Portkey's gateway said about a call: the trace ID it logged the call under, the provider
 * that answered, retries, cache status, the config target used.
 *
 * @param source - a result of `generateText` / `generateObject` (or one of its `steps`), a
 *   response (`await streamText(…).response`), or the `APICallError` of a failed call.
 * @returns `undefined` when `source` carries no response headers.
 *
 * @example
 * ```ts
 * const result = await generateText({ model: portkey('gpt-4o-mini'), prompt });
 * portkeyResponseMetadata(result)?.traceId;
 * const stream = streamText({ model: portkey('gpt-4o-mini'), prompt });
 * portkeyResponseMetadata(await stream.response)?.provider;
 * ```
 */
export function portkeyResponseMetadata(source: PortkeyResponseSource | null | undefined): PortkeyResponseMetadata | undefined {
  if (typeof source !== 'object' || source === null) return undefined;
  const headers =
    'headers' in source ? source.headers : 'response' in source ? source.response?.headers : 'responseHeaders' in source ? source.responseHeaders : undefined;
  if (typeof headers !== 'object' || headers === null) return undefined;
  return readPortkeyResponseHeaders(headers as Record<string, string | undefined>);
}
