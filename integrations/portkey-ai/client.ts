/**
 * Portkey's own SDK (`portkey-ai` 3.x), per request. Its client takes no custom `fetch` (an unknown
 * constructor option becomes an `x-portkey-*` header), and its per-call params
 * (`create(body, { traceID, metadata })`) are written into the shared client, so the next call —
 * another user's — sends them again. {@link createPortkeyClient} makes a client that reads the
 * request context instead, on every path of the SDK.
 */
import { whenReadyToSend } from '../../src/call-policy.js';
import { callHeaders, callOptionsInForce } from '../../src/call-headers.js';
import { tryGetPortkeyContext } from '../../src/context.js';
import { describeType, PortkeyContextError } from '../../src/errors.js';
import { isPlainObject } from '../../src/headers.js';
import { type PortkeyOptions, pickPortkeyOptions } from '../../src/options.js';
import { portkeyFetch } from '../../src/portkey-fetch.js';
import { withFields } from '../../src/copy.js';

/** What {@link createPortkeyClient} relies on in a portkey-ai client (3.x). */
export interface PortkeyAiClient {
  /** The client's Portkey headers: read by every request the client sends. */
  customHeaders: Record<string, string>;
}

/** The app's Portkey options from portkey-ai's constructor options (`traceID`, `Authorization` renamed; `null` left out). */
function staticOptions(options: Record<string, unknown>, apiKey: unknown): PortkeyOptions {
  const picked: Record<string, unknown> = { ...pickPortkeyOptions(options) };
  delete picked.baseURL;
  if (options.traceID != null) picked.traceId = options.traceID;
  if (options.Authorization != null) picked.authorization = options.Authorization;
  if (typeof apiKey === 'string' && apiKey !== '') picked.apiKey = apiKey;
  for (const key of Object.keys(picked)) if (picked[key] === null) delete picked[key];
  return picked as PortkeyOptions;
}

/** The header names whose value `next` changes from `shown`, other than back to the client's own (`base`). */
function changedHeaders(next: Record<string, string>, shown: Record<string, string>, base: Record<string, string>): string[] {
  const names = new Set([...Object.keys(next), ...Object.keys(shown)]);
  return [...names].filter((name) => next[name] !== shown[name] && next[name] !== base[name]);
}

/**
 * A portkey-ai client (`new Portkey(options)`) that sends, on every request, the Portkey context of
 * the HTTP request being served — its trace ID, user metadata and overrides, read when the request
 * is made — over the client's own options. Keep one client for the whole app.
 *
 * - Every SDK path carries the context: the client's own requests (`chat.completions.create`,
 *   streamed or not, `completions`, `embeddings`, `prompts`, …) and the ones portkey-ai sends through
 *   its bundled `openai` SDK (`responses`, `chat.completions.stream` / `parse` / `runTools`, `files`,
 *   `images`, `audio`, `models`, …).
 * - On the client's own requests also: a client that disconnects aborts the call, and gateway
 *   errors keep the gateway's message and end in `[Portkey trace ID: …]`, with no key in them (the
 *   `openai`-backed paths use the global `fetch`: pass `{ signal: portkeySignal() }` as their request options).
 * - Per-call params that portkey-ai would write into the shared client
 *   (`create(body, { traceID, metadata, config, … })`) throw `INVALID_OPTION`: give one call its
 *   options with `withPortkeyOverrides(overrides, () => client.….create(body))`.
 * - Read a call's response headers from its result: `portkeyResponseMetadata(result)` (the
 *   client's `responseHeaders` is the last response of any request).
 *
 * @param Portkey - portkey-ai's client class: `import { Portkey } from 'portkey-ai'` (portkey-context
 *   does not import portkey-ai itself).
 * @param options - portkey-ai's constructor options (`apiKey`, `config`, `virtualKey`, `baseURL`, …):
 *   the app's defaults, under the request context.
 * @returns the client, made with `new Portkey(options)`.
 * @throws {@link PortkeyContextError} `INVALID_OPTION` when `Portkey` does not make a portkey-ai 3.x client.
 *
 * @example
 * ```ts
 * import { Portkey } from 'portkey-ai';
 * const portkey = createPortkeyClient(Portkey, { config: process.env.PORTKEY_CONFIG });
 * // in a route:
 * const completion = await portkey.chat.completions.create({ model: 'gpt-4o-mini', messages });
 * ```
 */
export function createPortkeyClient<Options extends object, Client extends PortkeyAiClient>(
  Portkey: new (options: Options) => Client,
  options: Options = {} as Options,
): Client {
  if (typeof Portkey !== 'function') {
    throw new PortkeyContextError('INVALID_OPTION', `createPortkeyClient(Portkey, options) takes portkey-ai's Portkey class first, got ${describeType(Portkey)}.`);
  }
  if (!isPlainObject(options)) {
    throw new PortkeyContextError('INVALID_OPTION', `createPortkeyClient(Portkey, options) takes an object of portkey-ai options, got ${describeType(options)}.`);
  }
  const client = new Portkey(options);
  const internals = client as unknown as { customHeaders?: unknown; fetch?: unknown; apiKey?: unknown; request?: unknown };
  if (!isPlainObject(internals.customHeaders) || typeof internals.fetch !== 'function' || typeof internals.request !== 'function') {
    throw new PortkeyContextError(
      'INVALID_OPTION',
      "createPortkeyClient() takes portkey-ai's client class (3.x): import { Portkey } from 'portkey-ai'. The class given makes an object without portkey-ai's customHeaders / fetch.",
    );
  }
  const base = internals.customHeaders as Record<string, string>;
  const defaults = staticOptions(Object.assign(Object.create(null), options), internals.apiKey);
  // The client's own requests: the context's headers again at send time, its abort signal, error bodies.
  const fetch = portkeyFetch(defaults);
  /** The client's headers under the context in force now (read synchronously by every SDK call, in the caller's context). */
  const headers = (): Record<string, string> => {
    const context = tryGetPortkeyContext();
    if (context === undefined) return base;
    return withFields(base, callHeaders(callOptionsInForce(context, defaults)));
  };
  Object.defineProperty(client, 'fetch', { value: fetch, writable: true, configurable: true, enumerable: false });
  // The request's tenant, requireTenant and the token budget, before each request (each retry too):
  // a refusal thrown from the fetch would reach the caller retried, as an APIConnectionError.
  const request = internals.request as (this: unknown, ...args: unknown[]) => Promise<unknown>;
  Object.defineProperty(client, 'request', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function requestWhenReady(this: unknown, ...args: unknown[]): Promise<unknown> {
      return whenReadyToSend(tryGetPortkeyContext(), () => request.apply(this, args));
    },
  });
  Object.defineProperty(client, 'customHeaders', {
    configurable: true,
    enumerable: true,
    get: headers,
    set(next: unknown) {
      const changed = isPlainObject(next) ? changedHeaders(next as Record<string, string>, headers(), base) : ['(all)'];
      if (changed.length === 0) return; // params that change nothing (e.g. `{}`)
      throw new PortkeyContextError(
        'INVALID_OPTION',
        `Per-call Portkey params (${changed.join(', ')}) would be written into this shared portkey-ai client and sent again by every later call, other users' included. ` +
          'Give one call its options with withPortkeyOverrides({ metadata, config, … }, () => client.chat.completions.create(body)); the trace ID and user come from the request context.',
      );
    },
  });
  return client;
}
