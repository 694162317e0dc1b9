/**
 * The context crossing a process boundary: a serializable snapshot of the context in force (for a
 * job queue), and the headers that carry its trace to another service. Never a secret.
 */
import { contextCalls } from './call-policy.js';
import { tryGetPortkeyContext } from './context.js';
import { tenantCacheNamespace } from './tenant.js';
import { normalizeMetadata } from './metadata.js';
import { type PortkeyOptions, pickPortkeyOptions } from './options.js';
import { SECRET_PORTKEY_OPTIONS } from './secrets.js';
import { generateTraceId } from './trace-id.js';
import { withFields } from './copy.js';

/**
 * A context as plain JSON: what `runWithPortkeyContext(snapshot, fn)` starts the same context from,
 * in another process. Metadata is resolved when the snapshot is taken (the user included); options
 * carry no secret (no keys, provider auth, config, AWS keys) and no `customHost` (where calls go is
 * the receiving side's own setting, and a host may hold credentials).
 */
export interface PortkeyContextSnapshot {
  traceId: string;
  metadata?: Record<string, string>;
  options?: PortkeyOptions;
}

/** The options of a context without its secrets: what may be stored in a queue or sent along. */
function withoutSecrets(options: PortkeyOptions): PortkeyOptions | undefined {
  const out: Record<string, unknown> = { ...pickPortkeyOptions(options) };
  for (const key of SECRET_PORTKEY_OPTIONS) delete out[key];
  delete out.traceId;
  delete out.metadata;
  delete out.customHost; // where calls go is the receiving side's own setting (and a host may hold credentials)
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
  return Object.keys(out).length > 0 ? (out as PortkeyOptions) : undefined;
}

/**
 * A serializable snapshot of the context in force (trace ID, metadata resolved now, non-secret
 * options), or `undefined` outside a context. Start the same context elsewhere with
 * `runWithPortkeyContext(snapshot, fn)`.
 *
 * @example
 * ```ts
 * await queue.add('summarize', { docId, portkey: capturePortkeyContext() });
 * // in the worker
 * await runWithPortkeyContext(job.data.portkey ?? {}, () => summarize(job.data.docId));
 * ```
 */
export function capturePortkeyContext(): PortkeyContextSnapshot | undefined {
  const context = tryGetPortkeyContext();
  if (context === undefined) return undefined;
  const snapshot: PortkeyContextSnapshot = { traceId: context.traceId };
  const metadata = normalizeMetadata(context.metadata);
  if (Object.keys(metadata).length > 0) snapshot.metadata = metadata;
  const options = withoutSecrets(context.options);
  // A scope's own namespace under its tenant's, as its calls send it.
  const tenant = contextCalls(context)?.tenant;
  if (tenant !== undefined && options !== undefined) options.cacheNamespace = tenantCacheNamespace(tenant, options.cacheNamespace);
  if (options !== undefined) snapshot.options = options;
  return snapshot;
}

/** What {@link portkeyPropagationHeaders} sends besides the trace. */
export interface PortkeyPropagationOptions {
  /**
   * Send a W3C `traceparent` too. Turn it off when OpenTelemetry instruments your HTTP client: it
   * adds its own, and two `traceparent` headers make the receiving side start a new trace.
   * @default true
   */
  traceparent?: boolean;
  /**
   * Metadata keys sent along in `x-portkey-metadata` (e.g. `['_user', '_organisation']`), for a
   * receiving service that trusts them (`trustIncomingMetadata`). None by default.
   */
  metadata?: readonly string[];
}

const W3C_TRACE_ID = /^[0-9a-f]{32}$/;

/**
 * Headers that carry the context in force to another service of yours: `x-portkey-trace-id`, and a
 * W3C `traceparent` when the trace ID has the W3C form (32 hex characters; a new parent ID each
 * call). A service running `portkeyMiddleware()` continues the same trace. User metadata crosses
 * only when named here **and** trusted by the receiving side (`trustIncomingMetadata`). Empty
 * outside a context.
 *
 * @example
 * ```ts
 * await fetch('http://billing.internal/charge', { headers: { ...portkeyPropagationHeaders({ metadata: ['_user'] }) } });
 * ```
 */
export function portkeyPropagationHeaders(options?: PortkeyPropagationOptions): Record<string, string> {
  const context = tryGetPortkeyContext();
  if (context === undefined) return {};
  const traceId = context.traceId;
  const headers: Record<string, string> = { 'x-portkey-trace-id': traceId };
  if (options?.traceparent !== false && W3C_TRACE_ID.test(traceId) && !/^0+$/.test(traceId)) headers.traceparent = `00-${traceId}-${generateTraceId().slice(0, 16)}-01`;
  const keys = options?.metadata;
  if (keys?.length) {
    const metadata = normalizeMetadata(context.metadata);
    const sent: Record<string, string> = {};
    for (const key of keys) if (Object.hasOwn(metadata, key)) sent[key] = metadata[key]!;
    if (Object.keys(sent).length > 0) headers['x-portkey-metadata'] = JSON.stringify(sent);
  }
  return headers;
}

/**
 * Wraps a `fetch` so every request to your own services carries {@link portkeyPropagationHeaders}
 * (headers the request already has win). Use it for calls to services, not to the gateway (the
 * gateway gets its headers from `portkeyFetch()` or a client).
 */
export function withPortkeyPropagation(baseFetch: typeof fetch = globalThis.fetch, options?: PortkeyPropagationOptions): typeof fetch {
  return function portkeyPropagatingFetch(input, init) {
    const propagation = portkeyPropagationHeaders(options);
    const names = Object.keys(propagation);
    if (names.length === 0) return baseFetch(input, init);
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    for (const name of names) if (!headers.has(name)) headers.set(name, propagation[name]!);
    return baseFetch(input, withFields(init, { headers }));
  };
}
