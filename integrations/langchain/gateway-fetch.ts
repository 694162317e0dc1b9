/**
 * The `fetch` ChatPortkey's OpenAI client uses: it sends each call with the headers prepared for it
 * before LangChain's queue (`sendToGateway`: error bodies keep the gateway's message and the trace
 * ID, and show no secret) and records what the gateway answered, for `response_metadata.portkey`.
 */
import { type GatewayCall, type PortkeyResponseMetadata, readPortkeyResponseHeaders, sendToGateway } from '../../src/gateway-fetch.js';

export type { PortkeyResponseMetadata } from '../../src/gateway-fetch.js';

/** Per-call slot the fetch wrapper fills in; travels in the SDK's `fetchOptions` under this symbol. */
export const GATEWAY_CALL = Symbol('portkey-context.gateway-call');

/**
 * Wraps a `fetch` so each call goes out with its prepared headers and its gateway response is
 * recorded. `defaultHeaders` (the model's `configuration.defaultHeaders`) are added here, so they
 * never sit in the client's config.
 */
export function createGatewayFetch(baseFetch: typeof fetch = globalThis.fetch, defaultHeaders?: Record<string, string>): typeof fetch {
  return function portkeyGatewayFetch(input, init) {
    return sendToGateway(baseFetch, input, init, (init as Record<symbol, GatewayCall> | undefined)?.[GATEWAY_CALL], defaultHeaders);
  };
}

/** What the gateway said about a call, from its response headers (read once, when the result is tagged). */
export function gatewayResponseMetadata(call: GatewayCall): PortkeyResponseMetadata | undefined {
  if (call.portkey === undefined && call.responseHeaders !== undefined) call.portkey = readPortkeyResponseHeaders(call.responseHeaders);
  return call.portkey;
}

/**
 * What the gateway said about the call that produced `message` (`response_metadata.portkey`), typed.
 *
 * @example
 * ```ts
 * const reply = await model.invoke('Hi');
 * portkeyResponseMetadata(reply)?.traceId;
 * ```
 */
export function portkeyResponseMetadata(message: { response_metadata?: Record<string, unknown> }): PortkeyResponseMetadata | undefined {
  return message.response_metadata?.portkey as PortkeyResponseMetadata | undefined;
}
