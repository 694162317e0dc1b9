import { type ClientOptions, OpenAI } from 'openai';
import { isHostedGateway, noPortkeyKeyError } from '../../src/client-checks.js';
import { environmentDefaults, tryGetPortkeyContext } from '../../src/context.js';
import { describeType, PortkeyContextError } from '../../src/errors.js';
import { NO_PROVIDER_KEY } from '../../src/gateway-fetch.js';
import { assertValidPortkeyOptions, isPlainObject } from '../../src/headers.js';
import { PORTKEY_OPTION_KEYS, type PortkeyOptions, pickPortkeyOptions, resolvePortkeyOptions } from '../../src/options.js';
import { ownOption } from '../../src/own.js';
import { beforeGatewayCall } from '../../src/call-policy.js';
import { PORTKEY_REQUEST_OPTIONS, type PortkeyRequestInit, portkeyFetch } from '../../src/portkey-fetch.js';
import { misplacedOption, refuseOpenAIHabits } from './openai-habits.js';

/**
 * Options of {@link createPortkeyOpenAI}: every {@link PortkeyOptions} field (the app's defaults for
 * every call) and the `openai` client's own options under `configuration`. `apiKey` is the
 * **Portkey** API key; no provider key is needed or sent unless you set provider auth
 * (`authorization`, a virtual key or a config).
 */
export interface PortkeyOpenAIOptions extends PortkeyOptions {
  /**
   * `openai` client options (`timeout`, `maxRetries`, `fetch`, `defaultHeaders`, `logLevel`, …).
   * `apiKey` and `baseURL` come from the Portkey options; a `fetch` given here sends the requests.
   */
  configuration?: Omit<ClientOptions, 'apiKey' | 'baseURL'>;
}

/** What a client needs at call time, kept with its `fetch` (which `withOptions()` carries to the new client). */
interface PortkeyClientState {
  /** The Portkey API key given to the client (or `PORTKEY_API_KEY` when it was made). */
  apiKey: string | undefined;
}

/** The fetches made by {@link createPortkeyOpenAI}: a client whose `fetch` is not one of them lost its Portkey headers. */
const PORTKEY_FETCHES = new WeakMap<object, PortkeyClientState>();

/** The last gateway URL checked, and whether it is Portkey's hosted gateway (a client keeps one URL). */
let lastBaseURL: string | undefined;
let lastHosted = false;
function hosted(baseURL: string): boolean {
  if (baseURL !== lastBaseURL) {
    lastHosted = isHostedGateway(baseURL);
    lastBaseURL = baseURL;
  }
  return lastHosted;
}

/** The `apiKey` of the last layer that has one (own properties only). */
function apiKeyInForce(...layers: (PortkeyOptions | undefined)[]): unknown {
  for (let i = layers.length - 1; i >= 0; i--) {
    const apiKey = ownOption(layers[i], 'apiKey');
    if (apiKey !== undefined) return apiKey;
  }
  return undefined;
}

/** Set on a streamed attempt's RequestInit: called by the client's fetch once the response has started. */
const RESPONSE_STARTED = Symbol('portkey-context.response-started');

/** The RequestInit the SDK built for one attempt, as `prepareRequest` and the fetch see it. */
interface PreparedRequest {
  signal?: AbortSignal | null;
  [RESPONSE_STARTED]?: () => void;
}

/** The part of the SDK's per-call options the hooks read and write. */
interface CallOptions {
  fetchOptions?: unknown;
  signal?: AbortSignal | null | undefined;
  stream?: unknown;
}

/** Each signal this client put on a call's options → the caller's own signal it was made from. */
const CALLER_SIGNAL = new WeakMap<AbortSignal, AbortSignal | null | undefined>();
/** A streamed call's signal → what its fetch calls once the response has started. */
const ON_RESPONSE = new WeakMap<AbortSignal, () => void>();

/**
 * Puts the request context's abort signal on one attempt's options, where the SDK (v6 and v7)
 * looks to tell an abort from a failed connection: a client that disconnected then ends the call
 * with `APIUserAbortError` at once, never retried. A signal this client put there before (the
 * caller reusing one options object) is replaced, never merged again.
 *
 * A stream: the SDK ends a stream quietly once that signal aborted, which would read as a complete
 * answer. So the context aborts it only until the response starts; after that, portkeyFetch
 * aborts the body with the context's reason and iterating the stream throws `CLIENT_DISCONNECTED`.
 */
function withContextSignal(options: CallOptions): void {
  const given = options.signal;
  const caller = given && CALLER_SIGNAL.has(given) ? CALLER_SIGNAL.get(given) : given;
  const context = tryGetPortkeyContext()?.signal;
  let signal = caller;
  if (context !== undefined) {
    let own: AbortSignal;
    if (!options.stream) {
      own = AbortSignal.any(caller ? [caller, context] : [context]); // a signal of this call's own, even with no caller signal
    } else {
      const untilResponse = new AbortController();
      const abort = () => untilResponse.abort(context.reason);
      if (context.aborted) abort();
      else context.addEventListener('abort', abort, { once: true });
      own = caller ? AbortSignal.any([caller, untilResponse.signal]) : untilResponse.signal;
      ON_RESPONSE.set(own, () => context.removeEventListener('abort', abort));
    }
    CALLER_SIGNAL.set(own, caller);
    signal = own;
  }
  if (signal !== given) options.signal = signal;
}

/**
 * The `openai` client {@link createPortkeyOpenAI} returns. Requests get their Portkey headers from
 * its `fetch` ({@link portkeyFetch}); the SDK hooks below, which run in the caller's async context
 * before each attempt is sent, add what a `fetch` cannot do:
 *
 * - a call to Portkey's hosted gateway with no Portkey API key is refused before it is sent, with
 *   an error thrown as is (an error thrown by a `fetch` reaches the caller as an `APIConnectionError`,
 *   after retries);
 * - a client that disconnected ends the call as an abort, not as a failed connection (see {@link withContextSignal}).
 */
class PortkeyOpenAI extends OpenAI {
  protected override async prepareOptions(options: CallOptions): Promise<void> {
    await super.prepareOptions(options as never);
    const state = PORTKEY_FETCHES.get((this as unknown as { fetch: object }).fetch);
    if (state === undefined) {
      throw new PortkeyContextError(
        'INVALID_OPTION',
        "This client's fetch is not the one createPortkeyOpenAI() made (withOptions({ fetch }) replaced it), so its calls would carry no Portkey headers: give your fetch to createPortkeyOpenAI({ configuration: { fetch } }) instead.",
      );
    }
    // The request's tenant, requireTenant and the token budget: here, where a refusal is thrown as is
    // (from the fetch it would be retried, then wrapped as a connection error).
    await beforeGatewayCall(tryGetPortkeyContext());
    if (hosted(this.baseURL)) {
      const perCall = (options.fetchOptions as PortkeyRequestInit | undefined)?.[PORTKEY_REQUEST_OPTIONS];
      if (apiKeyInForce(environmentDefaults(), state, tryGetPortkeyContext()?.options, perCall) === undefined) {
        throw noPortkeyKeyError(this.baseURL, 'createPortkeyOpenAI()', 'portkeyCall({ apiKey })');
      }
    }
    withContextSignal(options);
  }

  /** A streamed attempt: its fetch says when the response has started (`request` is this attempt's own RequestInit). */
  protected override async prepareRequest(request: PreparedRequest, context: unknown): Promise<void> {
    await super.prepareRequest(request as never, context as never);
    const onResponse = request.signal ? ON_RESPONSE.get(request.signal) : undefined;
    if (onResponse !== undefined) request[RESPONSE_STARTED] = onResponse;
  }
}

/** `fetch` that tells a streamed request when its response has started (see `prepareRequest`). */
function tellingResponseStart(send: typeof fetch): typeof fetch {
  return function portkeyOpenAIFetch(input, init) {
    const started = (init as PreparedRequest | undefined)?.[RESPONSE_STARTED];
    if (started === undefined) return send(input, init);
    return send(input, init).then((response) => {
      started();
      return response;
    });
  };
}

/**
 * An `openai` client (the official SDK, v6 or v7) that talks to the Portkey gateway and sends, on
 * every request, the Portkey context of the HTTP request being served: its trace ID, its user
 * metadata and its overrides, read **when the request is sent** — whatever SDK method sends it
 * (chat completions, streams, the Responses API, embeddings, the `stream()` / `parse()` /
 * `runTools()` helpers). Keep one client for the whole app.
 *
 * - `baseURL` is the gateway (the `baseURL` option, `PORTKEY_BASE_URL`, or Portkey's hosted gateway).
 * - The SDK's own key is a placeholder that is never sent: provider auth is the Portkey
 *   `authorization` option, a virtual key or a config. `apiKey` is the **Portkey** API key.
 * - A client that disconnects aborts the request's calls: `APIUserAbortError`, not retried (on
 *   `openai` v7 its `cause` is the `CLIENT_DISCONNECTED` error); a stream under way throws
 *   `CLIENT_DISCONNECTED` from its loop. Gateway errors keep the gateway's message and end in
 *   `[Portkey trace ID: …]`, with no key in them.
 * - One call's own Portkey options: {@link portkeyCall}. What the gateway said: {@link portkeyResponseMetadata}.
 *
 * Precedence, lowest first: `PORTKEY_API_KEY` < these options < the request context (middleware /
 * module options, trace ID, metadata) < a `withPortkeyOverrides` scope < the call's `portkeyCall()` options.
 *
 * @param options - Portkey options, and `openai` client options under `configuration`.
 * @returns an `OpenAI` client.
 * @throws {@link PortkeyContextError} `INVALID_OPTION` / `INVALID_HEADER_VALUE` for an option that
 *   cannot be sent, a provider key given as `apiKey`, `configuration.apiKey` / `configuration.baseURL`,
 *   or an `openai` option given at the top level.
 *
 * @example
 * ```ts
 * import { createPortkeyOpenAI } from 'portkey-context/openai';
 * const client = createPortkeyOpenAI({ config: process.env.PORTKEY_CONFIG });
 * // in a route:
 * const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
 * ```
 */
export function createPortkeyOpenAI(options: PortkeyOpenAIOptions = {}): OpenAI {
  if (!isPlainObject(options)) {
    throw new PortkeyContextError('INVALID_OPTION', `createPortkeyOpenAI(options) takes an object of options, got ${describeType(options)}.`);
  }
  // Own properties only: nothing inherited from a polluted Object.prototype is read.
  const own: Record<string, unknown> = Object.assign(Object.create(null), options);
  const known = new Set<string>([...PORTKEY_OPTION_KEYS, 'configuration']);
  for (const key of Object.keys(own)) if (!known.has(key) && own[key] !== undefined) throw misplacedOption(key);
  if (own.spanId != null) {
    throw new PortkeyContextError('INVALID_OPTION', 'Portkey option "spanId" names one call: give it per call (portkeyCall({ spanId })), not to the client.');
  }
  const configuration = own.configuration ?? {};
  if (!isPlainObject(configuration)) {
    throw new PortkeyContextError('INVALID_OPTION', `createPortkeyOpenAI() option "configuration" must be an object of openai client options, got ${describeType(configuration)}.`);
  }
  const { baseURL, ...portkey } = resolvePortkeyOptions(pickPortkeyOptions(own));
  assertValidPortkeyOptions(portkey);
  const clientOptions: Record<string, unknown> = Object.assign(Object.create(null), configuration);
  refuseOpenAIHabits(clientOptions, portkey.apiKey);
  const fetch = tellingResponseStart(portkeyFetch({ ...portkey, fetch: clientOptions.fetch as typeof globalThis.fetch | undefined }));
  PORTKEY_FETCHES.set(fetch, { apiKey: portkey.apiKey });
  return new PortkeyOpenAI({ ...clientOptions, apiKey: NO_PROVIDER_KEY, baseURL, fetch });
}
