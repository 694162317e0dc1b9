/**
 * The Portkey options and headers of one gateway call, whichever client makes it. The layers that
 * do not change from call to call — `PORTKEY_API_KEY`, the client's own options, the context's
 * options (the app's, a tenant's, a scope's) — are merged, checked and turned into headers once,
 * and reused while those objects stay the same; each call adds only its trace ID, metadata, span
 * and per-call options.
 */
import { type ContextCalls, contextCalls } from './call-policy.js';
import { PORTKEY_HEADER_NAMES, createPortkeyHeaders, writePortkeyHeader } from './headers.js';
import { environmentDefaults, layeredMetadata, mergePortkeyOptions, type PortkeyOptions } from './options.js';
import { tenantCacheNamespace } from './tenant.js';
import type { PortkeyContext } from './context.js';

/** The layers under a call's own, merged, and their headers (metadata left out: it is merged per call). */
interface StaticLayers {
  readonly options: PortkeyOptions;
  readonly headers: Record<string, string>;
  /** `PORTKEY_API_KEY` as it was when these were made (it is read once per context). */
  readonly environmentKey: string | undefined;
}

/** One gateway call's Portkey options, every layer merged, and the static layers under them. */
export interface CallPortkeyOptions {
  /** The call's options. A client may set fields on it (its span) before {@link callHeaders}; none may be removed. */
  readonly options: PortkeyOptions;
  readonly layers: StaticLayers;
}

/** Stands for "no client options" and "no context options" as a cache key. */
const NONE: PortkeyOptions = Object.freeze({});
/** client options → context options → their merged layers. Weak: a context's own options go with it. */
const LAYERS = new WeakMap<PortkeyOptions, WeakMap<PortkeyOptions, StaticLayers>>();

function staticLayers(environment: PortkeyOptions | undefined, defaults: PortkeyOptions | undefined, contextOptions: PortkeyOptions | undefined): StaticLayers {
  const clientKey = defaults ?? NONE;
  let byContext = LAYERS.get(clientKey);
  if (byContext === undefined) {
    byContext = new WeakMap();
    LAYERS.set(clientKey, byContext);
  }
  const contextKey = contextOptions ?? NONE;
  const environmentKey = environment?.apiKey;
  let layers = byContext.get(contextKey);
  if (layers === undefined || layers.environmentKey !== environmentKey) {
    const options = mergePortkeyOptions(environment, defaults, contextOptions);
    const { metadata: _metadata, ...sent } = options;
    layers = { options, headers: createPortkeyHeaders(sent), environmentKey };
    byContext.set(contextKey, layers);
  }
  return layers;
}

/**
 * The Portkey options of a gateway call made now by a client with its own `defaults`:
 * `PORTKEY_API_KEY` < `defaults` < the context's options, trace ID and metadata < `overrides`
 * (metadata merged at every step). A tenant's calls have every cache namespace under its own.
 */
export function callOptionsInForce(context: PortkeyContext | undefined, defaults: PortkeyOptions | undefined, overrides?: PortkeyOptions): CallPortkeyOptions {
  // The environment gives only the key: not read when the defaults have one, and in a context read
  // once (process.env is slow: it was a seventh of portkeyHeaders()).
  const calls: ContextCalls | undefined = context === undefined ? undefined : contextCalls(context);
  const environment = defaults?.apiKey !== undefined ? undefined : calls === undefined ? environmentDefaults() : calls.environment;
  const layers = staticLayers(environment, defaults, context?.options);
  let options: PortkeyOptions = Object.assign({}, layers.options); // not a spread: see copy.ts
  if (context !== undefined) {
    if (context.traceId !== undefined) options.traceId = context.traceId;
    const metadata = layeredMetadata(options.metadata, context.metadata);
    if (metadata !== undefined) options.metadata = metadata as PortkeyOptions['metadata'];
  }
  if (overrides !== undefined) options = mergePortkeyOptions(options, overrides);
  const tenant = calls?.tenant;
  // A tenant's calls never share cache entries with another's: every namespace is under its own.
  if (tenant !== undefined) options.cacheNamespace = tenantCacheNamespace(tenant, options.cacheNamespace);
  return { options, layers };
}

/**
 * The headers of a call: the static layers' headers, made once, with those of every option the
 * call set or changed over them (checked as {@link createPortkeyHeaders} checks them).
 *
 * @throws {@link PortkeyContextError} as {@link createPortkeyHeaders} does.
 */
export function callHeaders({ options, layers }: CallPortkeyOptions): Record<string, string> {
  const headers: Record<string, string> = Object.assign({}, layers.headers);
  const base = layers.options as Record<string, unknown>;
  for (const option of Object.keys(options)) {
    const value = (options as Record<string, unknown>)[option];
    if (option !== 'metadata' && value === base[option]) continue; // its header is there already (or rightly absent)
    if (Object.hasOwn(PORTKEY_HEADER_NAMES, option)) delete headers[PORTKEY_HEADER_NAMES[option as keyof typeof PORTKEY_HEADER_NAMES]];
    writePortkeyHeader(headers, option, value);
  }
  return headers;
}
