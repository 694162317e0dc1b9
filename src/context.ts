import { AsyncLocalStorage } from 'node:async_hooks';
import { BRAND, hasBrand, setBrand } from './brand.js';
import { callHeaders, callOptionsInForce } from './call-headers.js';
import { CONTEXT_CALLS, type CallPolicy, ContextCalls, compileCallPolicy, contextCalls, type PortkeyCallPolicyOptions, type TenantResult } from './call-policy.js';
import { invalidOption, PortkeyContextError } from './errors.js';
import { assertValidPortkeyOptions, isPlainObject, refuseBaseURL } from './headers.js';
import { mergeMetadata } from './metadata.js';
import { type PortkeyMetadataRecord, type PortkeyOptions, pickPortkeyOptions } from './options.js';
import { ownOption as own } from './own.js';
import { checkedTenant, type ResolvedTenant, type TenantRouting } from './tenant.js';
import { generateTraceId } from './trace-id.js';
import type { PortkeyUsageSummary } from './usage-ledger.js';
import { NO_CONTEXT_HELP, warnOnce } from './warnings.js';
import { withFields } from './copy.js';

/**
 * The Portkey context of the current unit of work (an HTTP request, a job, a scope made with
 * {@link withPortkeyOverrides}).
 */
export interface PortkeyContext {
  /** The trace ID every gateway call in this context carries. */
  readonly traceId: string;
  /** The metadata in force, resolved now (a user set by auth after the context began is included). */
  readonly metadata: PortkeyMetadataRecord;
  /** Other Portkey options in force for gateway calls (app defaults, then overrides). */
  readonly options: PortkeyOptions;
  /**
   * Fires when the work this context serves is abandoned — for a request context, when the client
   * disconnects before the response is complete (`abortOnDisconnect`). `ChatPortkey` aborts its
   * calls with it; pass it to any other client: `fetch(url, { signal: context.signal })`.
   * `undefined` when nothing can abandon the work.
   */
  readonly signal: AbortSignal | undefined;
  /**
   * The `x-portkey-*` headers for a gateway call made now: environment defaults < `options` <
   * trace ID and metadata < `overrides` (metadata merged at every step).
   */
  headers(overrides?: PortkeyOptions): Record<string, string>;
  /**
   * What this context's gateway calls spent so far — calls, tokens, cache hits, retries, latency,
   * each call — whichever client of this package sent them. A nested scope shows its request's.
   */
  readonly usage: PortkeyUsageSummary;
}

/** What {@link runWithPortkeyContext} starts a context from. */
export interface PortkeyContextInit {
  /** Trace ID; generated with {@link generateTraceId} when absent. */
  traceId?: string;
  /** Metadata, or a function called each time headers are built (for values known later, like the user). */
  metadata?: PortkeyMetadataRecord | (() => PortkeyMetadataRecord);
  /** Other Portkey options for gateway calls made in this context. */
  options?: PortkeyOptions;
  /** Aborts the context's gateway calls when it fires (a job's cancellation, say). */
  signal?: AbortSignal;
  /**
   * The tenant of this work: its routing, or a function giving it (called on the first gateway
   * call, may be async). See the `tenant` option of the middleware.
   */
  tenant?: TenantRouting | (() => TenantResult);
  /** Refuse gateway calls when `tenant` gives none (`NO_TENANT`). @default false */
  requireTenant?: boolean;
  /** Refuse further gateway calls once this context's recorded tokens reach this (`TOKEN_BUDGET_EXCEEDED`). */
  maxTokensPerRequest?: number;
}

const STORE_KEY = Symbol.for('portkey-context.store');
type GlobalWithStore = typeof globalThis & { [STORE_KEY]?: AsyncLocalStorage<PortkeyContext> };

const globalStore = globalThis as GlobalWithStore;
if (!globalStore[STORE_KEY]) globalStore[STORE_KEY] = new AsyncLocalStorage<PortkeyContext>();
/** One store per process, even when both the ESM and the CJS build are loaded. */
export const portkeyContextStorage: AsyncLocalStorage<PortkeyContext> = globalStore[STORE_KEY];

export { environmentDefaults } from './options.js';

/** Shared behaviour of every context kind: how headers are made from traceId, metadata and options. */
export abstract class PortkeyContextBase implements PortkeyContext {
  abstract readonly traceId: string;
  abstract readonly metadata: PortkeyMetadataRecord;
  abstract readonly options: PortkeyOptions;
  abstract readonly signal: AbortSignal | undefined;
  /** The context's calls: its usage ledger, its tenant and the checks made before each call. */
  abstract readonly [CONTEXT_CALLS]: ContextCalls;

  /**
   * @throws {@link PortkeyContextError} `TENANT_PENDING` while an async tenant is being resolved;
   *   `NO_TENANT` / `TOKEN_BUDGET_EXCEEDED` when a call is refused.
   */
  headers(overrides?: PortkeyOptions): Record<string, string> {
    this[CONTEXT_CALLS].prepareSync();
    return callHeaders(callOptionsInForce(this, undefined, overrides));
  }

  get usage(): PortkeyUsageSummary {
    return this[CONTEXT_CALLS].ledger.summary();
  }
}
setBrand(PortkeyContextBase.prototype, BRAND.context);

/** Whether `value` is a context made by either build of this package (not a plain init object). */
export function isPortkeyContext(value: unknown): value is PortkeyContext {
  return hasBrand(value, BRAND.context);
}

/** A context's options without its trace ID and metadata: one shared object when it has none (calls reuse their headers). */
function withoutRequestFields(options: PortkeyOptions | undefined): PortkeyOptions {
  if (options === undefined) return NO_OPTIONS;
  const { traceId: _t, metadata: _m, ...rest } = pickPortkeyOptions(options);
  return rest;
}

/** The call policy and known tenant of a context init (`tenant` a routing or a function). */
function initPolicy(init: PortkeyContextInit): { policy: CallPolicy | undefined; tenant: ResolvedTenant | undefined } {
  const given = own(init, 'tenant');
  const fn = typeof given === 'function' ? (given as () => TenantResult) : undefined;
  if (given !== undefined && fn === undefined && !isPlainObject(given)) throw invalidOption('tenant', 'a tenant routing { id, … } or a function returning one', given);
  const policy = compileCallPolicy({
    // A routing given as is counts as the tenant option (requireTenant is satisfied by it).
    tenant: fn ?? (given === undefined ? undefined : () => given as TenantRouting),
    requireTenant: own(init, 'requireTenant') as boolean | undefined,
    maxTokensPerRequest: own(init, 'maxTokensPerRequest') as number | undefined,
  } satisfies PortkeyCallPolicyOptions<void>);
  const tenant = fn === undefined && given !== undefined ? checkedTenant(given) : undefined;
  return { policy, tenant };
}

const NO_OPTIONS: PortkeyOptions = Object.freeze({});

class StaticContext extends PortkeyContextBase {
  readonly traceId: string;
  readonly #options: PortkeyOptions;
  readonly signal: AbortSignal | undefined;
  readonly #staticMetadata: PortkeyMetadataRecord | undefined;
  readonly #metadata: PortkeyContextInit['metadata'];
  readonly #policy: CallPolicy | undefined;
  readonly #tenant: ResolvedTenant | undefined;
  #calls: ContextCalls | undefined;

  constructor(init: PortkeyContextInit) {
    super();
    if (!isPlainObject(init)) throw invalidOption('context', 'an object { traceId?, metadata?, options?, signal? }', init);
    const options = own(init, 'options') as PortkeyOptions | undefined;
    if (options !== undefined && !isPlainObject(options)) throw invalidOption('options', 'an object of Portkey options', options);
    refuseBaseURL(options, 'a context');
    const metadata = own(init, 'metadata') ?? undefined; // null: none
    if (metadata !== undefined && typeof metadata !== 'function' && !isPlainObject(metadata)) {
      throw invalidOption('metadata', 'an object or a function returning one', metadata);
    }
    const signal = own(init, 'signal');
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidOption('signal', 'an AbortSignal', signal);
    const { policy, tenant } = initPolicy(init);
    this.traceId = (own(init, 'traceId') ?? own(options, 'traceId') ?? generateTraceId()) as string;
    this.#options = withoutRequestFields(options);
    this.signal = signal;
    this.#staticMetadata = (own(options, 'metadata') ?? undefined) as PortkeyMetadataRecord | undefined;
    this.#metadata = metadata as PortkeyContextInit['metadata'];
    this.#policy = policy;
    this.#tenant = tenant;
    assertValidPortkeyOptions({ ...this.#options, traceId: this.traceId, metadata: this.#staticMetadata });
  }

  get [CONTEXT_CALLS](): ContextCalls {
    this.#calls ??= new ContextCalls(this.#policy, () => undefined, this.#tenant);
    return this.#calls;
  }

  /** Whether a tenant may add to the options and metadata (a routing given as is counts: see initPolicy). */
  get #tenanted(): boolean {
    return this.#policy?.tenant !== undefined;
  }

  get options(): PortkeyOptions {
    return this.#tenanted ? this[CONTEXT_CALLS].options(this.#options) : this.#options;
  }

  get metadata(): PortkeyMetadataRecord {
    const own = typeof this.#metadata === 'function' ? this.#metadata() : this.#metadata;
    const tenant = this.#tenanted ? this[CONTEXT_CALLS].metadata : undefined;
    return mergeMetadata(tenant === undefined ? this.#staticMetadata : mergeMetadata(tenant, this.#staticMetadata), own);
  }
}

/** Where a nested scope keeps the context it was opened in (registered: both builds read it). */
export const PARENT_CONTEXT: unique symbol = Symbol.for('portkey-context.parent');

class OverrideContext extends PortkeyContextBase {
  readonly [PARENT_CONTEXT]: PortkeyContext;
  readonly traceId: string;
  readonly #metadata: PortkeyMetadataRecord | undefined;
  /** The scope's own options (no trace ID or metadata), laid over the parent's when asked. */
  readonly #own: PortkeyOptions;
  #parentOptions: PortkeyOptions | undefined;
  #options: PortkeyOptions | undefined;

  constructor(parent: PortkeyContext, overrides: PortkeyOptions) {
    super();
    if (!isPlainObject(overrides)) throw invalidOption('overrides', 'an object of Portkey options', overrides);
    refuseBaseURL(overrides, 'a scope');
    this[PARENT_CONTEXT] = parent;
    this.traceId = (own(overrides as PortkeyOptions, 'traceId') ?? parent.traceId) as string;
    this.#metadata = (own(overrides as PortkeyOptions, 'metadata') ?? undefined) as PortkeyMetadataRecord | undefined;
    this.#own = withoutRequestFields(overrides);
    assertValidPortkeyOptions({ ...this.options, traceId: this.traceId, metadata: this.#metadata });
  }

  /** The parent's options (its tenant's, once resolved) with the scope's over them. */
  get options(): PortkeyOptions {
    const parentOptions = this[PARENT_CONTEXT].options;
    if (parentOptions !== this.#parentOptions) {
      this.#parentOptions = parentOptions;
      this.#options = withFields(parentOptions, this.#own);
    }
    return this.#options!;
  }

  get [CONTEXT_CALLS](): ContextCalls {
    return contextCalls(this[PARENT_CONTEXT])!;
  }

  get metadata(): PortkeyMetadataRecord {
    return this.#metadata ? mergeMetadata(this[PARENT_CONTEXT].metadata, this.#metadata) : this[PARENT_CONTEXT].metadata;
  }

  get signal(): AbortSignal | undefined {
    return this[PARENT_CONTEXT].signal;
  }
}

/**
 * Runs `fn` inside a new Portkey context; every gateway call made from it (and from whatever it
 * awaits) carries this context's trace ID and metadata.
 *
 * @param context - the trace ID, metadata and options of the new context, or a ready {@link PortkeyContext}.
 * @param fn - the work to run.
 * @returns what `fn` returns.
 * @throws {@link PortkeyContextError} `INVALID_HEADER_VALUE` when the trace ID or an option cannot be a header.
 *
 * @example
 * ```ts
 * await runWithPortkeyContext({ traceId: job.id, metadata: { _user: job.userId } }, () => summarize(job));
 * ```
 */
export function runWithPortkeyContext<R>(context: PortkeyContextInit | PortkeyContext, fn: () => R): R {
  const store = isPortkeyContext(context) ? context : new StaticContext(context as PortkeyContextInit);
  return portkeyContextStorage.run(store, fn);
}

/**
 * The Portkey context in force, or `undefined` outside one.
 */
export function tryGetPortkeyContext(): PortkeyContext | undefined {
  return portkeyContextStorage.getStore();
}

/**
 * The Portkey context in force.
 *
 * @throws {@link PortkeyContextError} `NO_CONTEXT` outside a context, saying what to mount.
 */
export function getPortkeyContext(): PortkeyContext {
  const context = portkeyContextStorage.getStore();
  if (!context) {
    throw new PortkeyContextError(
      'NO_CONTEXT',
`No Portkey context is active. ${NO_CONTEXT_HELP}`,
    );
  }
  return context;
}

/**
 * Runs `fn` in a nested scope whose options replace the current ones field by field, with
 * `metadata` merged over the current metadata. Outside any context it starts a new one.
 *
 * @example
 * ```ts
 * await withPortkeyOverrides({ metadata: { feature: 'summary' }, cacheNamespace: 'summaries' }, () => model.invoke(q));
 * ```
 */
export function withPortkeyOverrides<R>(overrides: PortkeyOptions, fn: () => R): R {
  const parent = portkeyContextStorage.getStore();
  const store = parent
    ? new OverrideContext(parent, overrides)
    : new StaticContext({ options: overrides }); // the context reads traceId and metadata from its options
  return portkeyContextStorage.run(store, fn);
}

/**
 * The headers for a gateway call made now: the context in force (if any) merged over the
 * environment defaults, then `overrides`. Use it with `fetch`, the `openai` client or anything else.
 * Outside a context it returns the environment defaults and `overrides` only (no trace ID), and
 * warns once per process (`PORTKEY_NO_CONTEXT`); `getPortkeyContext().headers()` throws there instead.
 *
 * @example
 * ```ts
 * await fetch(`${baseURL}/chat/completions`, { method: 'POST', headers: { ...portkeyHeaders(), 'content-type': 'application/json' }, body });
 * ```
 */
export function portkeyHeaders(overrides?: PortkeyOptions): Record<string, string> {
  const context = portkeyContextStorage.getStore();
  if (context) return context.headers(overrides);
  warnNoContext('portkeyHeaders()');
  return callHeaders(callOptionsInForce(undefined, undefined, overrides));
}

/**
 * Warns, once per process, that a gateway call is made outside any context: it carries no trace ID
 * and no user. For callers that have no stricter mode (`ChatPortkey` has `strict`).
 */
export function warnNoContext(caller: string): void {
  warnOnce('PORTKEY_NO_CONTEXT', `${caller} was called outside any Portkey context, so the call carries no trace ID and no user. ${NO_CONTEXT_HELP} (Warned once per process.)`);
}

/**
 * The abort signal of the context in force (see {@link PortkeyContext.signal}): for a request, it
 * fires when the client disconnects before the response is complete. `undefined` outside a context
 * or when nothing can abandon the work.
 *
 * @example
 * ```ts
 * const res = await fetch(`${baseURL}/chat/completions`, { method: 'POST', headers: portkeyHeaders(), body, signal: portkeySignal() });
 * ```
 */
export function portkeySignal(): AbortSignal | undefined {
  return portkeyContextStorage.getStore()?.signal;
}

/**
 * What the gateway calls of the context in force spent so far (its request's, in a nested scope):
 * calls, tokens, cache hits, retries, latency, and each call. `undefined` outside a context.
 *
 * @example
 * ```ts
 * const { totalTokens, calls } = portkeyUsage() ?? {};
 * ```
 */
export function portkeyUsage(): PortkeyUsageSummary | undefined {
  return portkeyContextStorage.getStore()?.usage;
}

/**
 * Resolves the tenant of the context in force now (the `tenant` option), if not done yet, and
 * returns its ID. Gateway clients of this package wait for it themselves; call this before
 * building headers synchronously (`portkeyHeaders()`) when `tenant` is async.
 *
 * @returns the tenant's ID, or `undefined` when there is none (or no context).
 * @throws {@link PortkeyContextError} `TENANT_RESOLUTION_FAILED` when the `tenant` option fails.
 */
export async function resolvePortkeyTenant(): Promise<string | undefined> {
  const context = portkeyContextStorage.getStore();
  const calls = context === undefined ? undefined : contextCalls(context);
  return (await calls?.resolveTenant())?.id;
}
