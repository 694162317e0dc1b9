import { contextCalls, whenReadyToSend } from './call-policy.js';
import { callHeaders, callOptionsInForce } from './call-headers.js';
import { type PortkeyContext, tryGetPortkeyContext, warnNoContext } from './context.js';
import { invalidOption } from './errors.js';
import { assertValidPortkeyOptions, isPlainObject, refuseBaseURL } from './headers.js';
import { sendToGateway } from './gateway-fetch.js';
import { type PortkeyOptions, pickPortkeyOptions } from './options.js';
import { ownOption } from './own.js';
import { secretValues } from './secrets.js';
import { generateSpanId } from './trace-id.js';
import { withFields } from './copy.js';

/** Options of {@link portkeyFetch}: static Portkey options (the app's defaults) and the `fetch` to wrap. */
export interface PortkeyFetchOptions extends Omit<PortkeyOptions, 'baseURL'> {
  /** The `fetch` that sends the request. @default globalThis.fetch */
  fetch?: typeof fetch;
}

/**
 * Where a client puts one request's Portkey overrides in the `RequestInit` it hands its `fetch`
 * (the `openai` SDK: `fetchOptions`). Registered, so every build of the package reads it.
 */
export const PORTKEY_REQUEST_OPTIONS: unique symbol = Symbol.for('portkey-context.request-options');

/** A `RequestInit` that may carry one request's Portkey overrides. */
export type PortkeyRequestInit = RequestInit & { [PORTKEY_REQUEST_OPTIONS]?: PortkeyOptions };

/** One signal that fires when either does. */
export function eitherSignal(a: AbortSignal | null | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (!a || a === b) return b;
  if (!b) return a;
  return AbortSignal.any([a, b]);
}

/**
 * Gives a call in a context explicit span headers: its own span ID, and a parent — the one a scope
 * or the call named, else the context's root span (whose ID is the trace ID). Sent explicitly, they
 * win over the parent Portkey would otherwise take from a `traceparent` that OpenTelemetry's HTTP
 * instrumentation adds to the request (its own client span), so calls are never misparented.
 */
export function withExplicitSpan(options: PortkeyOptions): void {
  if (options.spanId === undefined) options.spanId = generateSpanId();
  if (options.parentSpanId === undefined && options.traceId !== undefined) options.parentSpanId = options.traceId;
}

/**
 * A `fetch` for any client that talks to the gateway (the `openai` SDK, the Vercel AI SDK,
 * Portkey's SDK, your own calls): each request gets the `x-portkey-*` headers of the context in
 * force **when it is sent** — environment defaults < `options` < the context's options, trace ID
 * and metadata < the request's own overrides (`init[PORTKEY_REQUEST_OPTIONS]`) — and the context's
 * abort signal. Error bodies keep the gateway's message, end in the trace ID and show no secret.
 *
 * For clients that send in the caller's async context. A client that queues requests and sends
 * them later from elsewhere (its own worker, a shared timer) sends the context in force there:
 * give such calls their headers up front with `portkeyHeaders()` instead.
 *
 * @param options - static Portkey options and the `fetch` to wrap.
 * @throws {@link PortkeyContextError} `INVALID_OPTION` / `INVALID_HEADER_VALUE` for a bad option.
 *
 * For the `openai` SDK, the Vercel AI SDK and Portkey's SDK, use `createPortkeyOpenAI()`
 * (`portkey-context/openai`), `createPortkey()` (`/ai-sdk`) and `createPortkeyClient()`
 * (`/portkey-ai`): they build on this fetch and also handle the client's own key, retries and aborts.
 *
 * @example
 * ```ts
 * const gatewayFetch = portkeyFetch({ config: process.env.PORTKEY_CONFIG });
 * const res = await gatewayFetch(`${baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
 * ```
 */
export function portkeyFetch(options: PortkeyFetchOptions = {}): typeof fetch {
  if (!isPlainObject(options)) throw invalidOption('options', 'an object of Portkey options', options);
  refuseBaseURL(options as PortkeyOptions, 'portkeyFetch() (the client sets the URL)');
  const baseFetch = (ownOption(options, 'fetch') ?? globalThis.fetch) as typeof fetch;
  if (typeof baseFetch !== 'function') throw invalidOption('fetch', 'a fetch function', baseFetch);
  const defaults = pickPortkeyOptions(options as PortkeyOptions);
  assertValidPortkeyOptions(defaults);
  const send = (context: PortkeyContext | undefined, input: Parameters<typeof fetch>[0], init: RequestInit | undefined): Promise<Response> => {
    const perRequest = (init as PortkeyRequestInit | undefined)?.[PORTKEY_REQUEST_OPTIONS];
    const inForce = callOptionsInForce(context, defaults, perRequest);
    const merged = inForce.options;
    if (context !== undefined) withExplicitSpan(merged);
    const ledger = context === undefined ? undefined : contextCalls(context)?.ledger;
    const call = { headers: callHeaders(inForce), traceId: merged.traceId, secrets: () => secretValues(merged), ledger };
    const signal = eitherSignal(init?.signal, context?.signal);
    return sendToGateway(baseFetch, input, signal === init?.signal ? init : withFields(init, { signal }), call);
  };
  return function portkeyContextFetch(input, init) {
    const context = tryGetPortkeyContext();
    if (context === undefined) {
      warnNoContext('A portkeyFetch() request');
      return send(undefined, input, init);
    }
    // The request's tenant, requireTenant and the token budget: waited for, or refused, before sending.
    return whenReadyToSend(context, () => send(context, input, init));
  };
}
