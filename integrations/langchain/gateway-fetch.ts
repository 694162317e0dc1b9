/**
 * The `fetch` ChatPortkey's OpenAI client uses: it records what the gateway answered for the call
 * in flight, and turns the gateway's own error bodies (`{"status":"failure","message":…}`,
 * `{"html-message":…}`), which the `openai` client reports as "(no body)", into OpenAI-shaped errors
 * that keep the gateway's message.
 */

/** One model call as the fetch wrapper sees it: the headers to send, and what the gateway answered. */
export interface GatewayResponseInfo {
  /**
   * The call's `x-portkey-*` headers (and `Authorization` when provider auth is set). Added here,
   * at send time, rather than through the `openai` client's per-request headers: merging them
   * there cost more than the rest of the call's header work. Without `Authorization` among them,
   * the client's own (a placeholder key) is removed.
   */
  headers?: Record<string, string>;
  /** The gateway's response headers, kept as they came; read by {@link gatewayResponseMetadata}. */
  responseHeaders?: Headers;
  /** Response headers Portkey adds, as `response_metadata.portkey`. */
  portkey?: PortkeyResponseMetadata;
}

/** Portkey's response headers, as they land on `message.response_metadata.portkey`. */
export interface PortkeyResponseMetadata {
  /** `x-portkey-trace-id` echoed by the gateway. */
  traceId?: string;
  /** `x-portkey-provider`: the provider that answered. */
  provider?: string;
  /** `x-portkey-retry-attempt-count`. */
  retryAttemptCount?: number;
  /** `x-portkey-cache-status` (e.g. `HIT`, `MISS`, `DISABLED`). */
  cacheStatus?: string;
  /** `x-portkey-last-used-option-index`: which config target answered (fallback / load balancing). */
  lastUsedOptionIndex?: string;
}

/** Per-call slot the fetch wrapper fills in; travels in the SDK's `fetchOptions` under this symbol. */
export const GATEWAY_CALL = Symbol('portkey-context.gateway-call');

function fromResponseHeaders(headers: Headers): PortkeyResponseMetadata {
  const metadata: PortkeyResponseMetadata = {};
  const traceId = headers.get('x-portkey-trace-id');
  const provider = headers.get('x-portkey-provider');
  const retries = headers.get('x-portkey-retry-attempt-count');
  const cacheStatus = headers.get('x-portkey-cache-status');
  const lastUsedOptionIndex = headers.get('x-portkey-last-used-option-index');
  if (traceId) metadata.traceId = traceId;
  if (provider) metadata.provider = provider;
  if (retries !== null && retries !== '' && Number.isFinite(Number(retries))) metadata.retryAttemptCount = Number(retries);
  if (cacheStatus) metadata.cacheStatus = cacheStatus;
  if (lastUsedOptionIndex) metadata.lastUsedOptionIndex = lastUsedOptionIndex;
  return metadata;
}

/** The gateway's message from an error body that is not OpenAI-shaped, if there is one. */
function gatewayMessage(body: string): string | undefined {
  let parsed: any;
  try {
    parsed = JSON.parse(body);
  } catch {
    return body.trim() ? body.trim().slice(0, 500) : undefined;
  }
  if (!parsed || typeof parsed !== 'object' || parsed.error) return undefined;
  const message = parsed.message ?? parsed['html-message'] ?? parsed.error_message;
  return typeof message === 'string' && message ? message : undefined;
}

/**
 * The request's headers with the call's Portkey headers set over them and the model's default
 * headers added where the request has none of that name.
 */
function requestHeaders(
  given: ConstructorParameters<typeof Headers>[0],
  portkey: Record<string, string> | undefined,
  defaults: Record<string, string> | undefined,
): Headers {
  const headers = given instanceof Headers ? given : new Headers(given);
  if (defaults) for (const [name, value] of Object.entries(defaults)) if (!headers.has(name)) headers.set(name, value);
  if (portkey) {
    for (const name of Object.keys(portkey)) headers.set(name, portkey[name]!);
    if (portkey.Authorization === undefined) headers.delete('authorization');
  }
  return headers;
}

/**
 * Wraps a `fetch` so gateway responses are recorded on the call in flight and gateway error
 * bodies keep their message through the `openai` client. `defaultHeaders` (the model's
 * `configuration.defaultHeaders`) are added here, so they never sit in the client's config.
 */
export function createGatewayFetch(baseFetch: typeof fetch = globalThis.fetch, defaultHeaders?: Record<string, string>): typeof fetch {
  // Not async: one promise less per call, and nothing is awaited on the success path.
  return function portkeyGatewayFetch(input, init) {
    const call = (init as Record<symbol, GatewayResponseInfo> | undefined)?.[GATEWAY_CALL];
    if (call?.headers || defaultHeaders) init = { ...init, headers: requestHeaders(init?.headers, call?.headers, defaultHeaders) };
    return baseFetch(input, init).then((response) => {
      if (call) call.responseHeaders = response.headers;
      return response.ok ? response : withGatewayMessage(response);
    });
  };
}

/** An error response whose gateway body (not OpenAI-shaped) is rewritten so the `openai` client keeps its message. */
async function withGatewayMessage(response: Response): Promise<Response> {
  const body = await response.text();
  const message = gatewayMessage(body);
  const rewritten = message ? JSON.stringify({ error: { message: `Portkey gateway: ${message}`, type: 'portkey_gateway_error' } }) : body;
  const headers = new Headers(response.headers);
  headers.delete('content-length');
  headers.delete('content-encoding');
  if (message) headers.set('content-type', 'application/json');
  return new Response(rewritten, { status: response.status, statusText: response.statusText, headers });
}

/** What the gateway said about a call, from its response headers (read once, when the result is tagged). */
export function gatewayResponseMetadata(call: GatewayResponseInfo): PortkeyResponseMetadata | undefined {
  if (call.portkey === undefined && call.responseHeaders !== undefined) call.portkey = fromResponseHeaders(call.responseHeaders);
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
