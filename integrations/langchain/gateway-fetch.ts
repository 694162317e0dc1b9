/**
 * The `fetch` ChatPortkey's OpenAI client uses: it records what the gateway answered for the call
 * in flight, and turns the gateway's own error bodies (`{"status":"failure","message":…}`,
 * `{"html-message":…}`), which the `openai` client reports as "(no body)", into OpenAI-shaped errors
 * that keep the gateway's message.
 */

/** What one model call learned from the gateway's response. */
export interface GatewayResponseInfo {
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

/** `headers` with each default added where the request does not set that header itself. */
function withDefaults(headers: ConstructorParameters<typeof Headers>[0], defaults: Record<string, string>): Headers {
  const merged = new Headers(headers);
  for (const [name, value] of Object.entries(defaults)) if (typeof value === 'string' && !merged.has(name)) merged.set(name, value);
  return merged;
}

/**
 * Wraps a `fetch` so gateway responses are recorded on the call in flight and gateway error
 * bodies keep their message through the `openai` client. `defaultHeaders` (the model's
 * `configuration.defaultHeaders`) are added here, so they never sit in the client's config.
 */
export function createGatewayFetch(baseFetch: typeof fetch = globalThis.fetch, defaultHeaders?: Record<string, string>): typeof fetch {
  return async function portkeyGatewayFetch(input, init) {
    const call = (init as Record<symbol, GatewayResponseInfo> | undefined)?.[GATEWAY_CALL];
    if (defaultHeaders) init = { ...init, headers: withDefaults(init?.headers, defaultHeaders) };
    const response = await baseFetch(input, init);
    if (call) call.portkey = fromResponseHeaders(response.headers);
    if (response.ok) return response;
    const body = await response.text();
    const message = gatewayMessage(body);
    const rewritten = message
      ? JSON.stringify({ error: { message: `Portkey gateway: ${message}`, type: 'portkey_gateway_error' } })
      : body;
    const headers = new Headers(response.headers);
    headers.delete('content-length');
    headers.delete('content-encoding');
    if (message) headers.set('content-type', 'application/json');
    return new Response(rewritten, { status: response.status, statusText: response.statusText, headers });
  };
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
