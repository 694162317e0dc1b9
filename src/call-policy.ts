/**
 * What every gateway call of a context goes through before it is sent, whichever client sends it:
 * the tenant resolved (once per context, lazily), `requireTenant` and the token budget enforced,
 * and the usage ledger the call is recorded in.
 */
import { describeType, invalidOption, PortkeyContextError } from './errors.js';
import { environmentDefaults, type PortkeyMetadataRecord, type PortkeyOptions } from './options.js';
import { checkedTenant, type ResolvedTenant, type TenantRouting } from './tenant.js';
import { UsageLedger } from './usage-ledger.js';
import { withFields } from './copy.js';

/** What a `tenant` option may return: a routing, none (`undefined` / `null`), or a promise of either. */
export type TenantResult = TenantRouting | undefined | null | PromiseLike<TenantRouting | undefined | null>;

/** Options every context kind takes for its calls (the middleware, the module, `runWithPortkeyContext`). */
export interface PortkeyCallPolicyOptions<Subject> {
  /**
   * The Portkey options of the tenant the work serves (its Portkey key, virtual key, config, cache
   * namespace, metadata, …). Called on the first gateway call that needs it — so after your auth
   * ran — once per context; a rejection is not kept (the next call tries again). Its options sit
   * over the app's and under scopes and per-call options; its cache namespace is every call's
   * (a scope's or call's own namespace goes under it). See "Multi-tenant apps" in the README.
   */
  tenant?: (subject: Subject) => TenantResult;
  /**
   * Refuse every gateway call of a context whose tenant resolved to none, before anything is sent
   * (`PortkeyContextError` `NO_TENANT`). Needs `tenant`.
   * @default false
   */
  requireTenant?: boolean;
  /**
   * Once a context's recorded tokens (input + output) reach this, its further gateway calls are
   * refused before they are sent (`PortkeyContextError` `TOKEN_BUDGET_EXCEEDED`). Calls already in
   * flight finish.
   */
  maxTokensPerRequest?: number;
}

/** The checked call options of an app (or of one `runWithPortkeyContext`). */
export interface CallPolicy {
  tenant: ((subject: any) => TenantResult) | undefined;
  requireTenant: boolean;
  maxTokens: number | undefined;
}

/**
 * Checks the call options once, at start-up.
 *
 * @returns the policy, or `undefined` when none is set (nothing to do before a call).
 * @throws {@link PortkeyContextError} `INVALID_OPTION`.
 */
export function compileCallPolicy(options: PortkeyCallPolicyOptions<any>): CallPolicy | undefined {
  const tenant = Object.hasOwn(options, 'tenant') ? options.tenant : undefined;
  const requireTenant = Object.hasOwn(options, 'requireTenant') ? options.requireTenant : undefined;
  const maxTokens = Object.hasOwn(options, 'maxTokensPerRequest') ? options.maxTokensPerRequest : undefined;
  if (tenant !== undefined && typeof tenant !== 'function') throw invalidOption('tenant', 'a function (request) => { id, …Portkey options } (or a promise of one)', tenant);
  if (requireTenant !== undefined && typeof requireTenant !== 'boolean') throw invalidOption('requireTenant', 'a boolean', requireTenant);
  if (requireTenant && tenant === undefined) {
    throw new PortkeyContextError('INVALID_OPTION', 'Portkey option "requireTenant" needs the "tenant" option: the function that gives a request its tenant.');
  }
  if (maxTokens !== undefined && !(typeof maxTokens === 'number' && Number.isInteger(maxTokens) && maxTokens > 0)) {
    throw invalidOption('maxTokensPerRequest', 'a positive integer', maxTokens);
  }
  if (tenant === undefined && maxTokens === undefined) return undefined;
  return { tenant, requireTenant: requireTenant ?? false, maxTokens };
}

/** Where a context keeps its {@link ContextCalls} (registered: both builds read it). */
export const CONTEXT_CALLS: unique symbol = Symbol.for('portkey-context.calls');

/** A context that has calls: every context of this package (nested scopes return their parent's). */
interface WithCalls {
  readonly [CONTEXT_CALLS]: ContextCalls;
}

const UNRESOLVED = 0;
const PENDING = 1;
const RESOLVED = 2;

/** One context's calls: its ledger, its tenant, its policy. Made on the first call (or when asked). */
export class ContextCalls {
  readonly ledger = new UsageLedger();
  readonly #policy: CallPolicy | undefined;
  readonly #subject: () => unknown;
  #state: typeof UNRESOLVED | typeof PENDING | typeof RESOLVED;
  #tenant: ResolvedTenant | undefined;
  #pending: Promise<void> | undefined;
  #mergedFor: PortkeyOptions | undefined;
  #merged: PortkeyOptions | undefined;
  #environment: PortkeyOptions | undefined | null = null;

  /**
   * @param subject - what the `tenant` option is called with (the request), read when it is called.
   * @param tenant - a tenant known up front (`runWithPortkeyContext({ tenant: {…} })`).
   */
  constructor(policy: CallPolicy | undefined, subject: () => unknown, tenant?: ResolvedTenant) {
    this.#policy = policy;
    this.#subject = subject;
    this.#state = tenant !== undefined || policy?.tenant === undefined ? RESOLVED : UNRESOLVED;
    if (tenant !== undefined) this.#adopt(tenant);
  }

  /** `PORTKEY_API_KEY` as this context's calls see it: read on its first call. */
  get environment(): PortkeyOptions | undefined {
    if (this.#environment === null) this.#environment = environmentDefaults();
    return this.#environment;
  }

  /** The tenant, once resolved (`undefined` before, or when there is none). */
  get tenant(): ResolvedTenant | undefined {
    return this.#tenant;
  }

  /** `base` (a context's own options) with the tenant's options over it, once it is resolved. */
  options(base: PortkeyOptions): PortkeyOptions {
    const tenant = this.#tenant;
    if (tenant === undefined) return base;
    if (this.#mergedFor !== base) {
      this.#mergedFor = base;
      this.#merged = withFields(base, tenant.options);
    }
    return this.#merged!;
  }

  /** The tenant's metadata, once resolved. */
  get metadata(): PortkeyMetadataRecord | undefined {
    return this.#tenant?.metadata;
  }

  #adopt(tenant: ResolvedTenant | undefined): void {
    this.#tenant = tenant;
    this.#state = RESOLVED;
    if (tenant !== undefined) this.ledger.tenant = tenant.id;
  }

  /** Calls the `tenant` option; a promise when it returned one (or the state is already pending). */
  #resolve(): Promise<void> | undefined {
    if (this.#state === PENDING) return this.#pending;
    let result: TenantResult;
    try {
      result = this.#policy!.tenant!(this.#subject());
    } catch (cause) {
      throw tenantFailed(cause);
    }
    if (result === null || typeof (result as PromiseLike<unknown>)?.then !== 'function') {
      this.#adopt(checkedTenant(result));
      return undefined;
    }
    this.#state = PENDING;
    this.#pending = Promise.resolve(result).then(
      (value) => this.#adopt(checkedTenant(value)),
      (cause: unknown) => {
        throw tenantFailed(cause);
      },
    );
    // A failure is not kept: the next call asks again.
    this.#pending.catch(() => {
      this.#state = UNRESOLVED;
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /** `requireTenant` and the budget, for a tenant already resolved. */
  #check(): void {
    const policy = this.#policy!;
    if (policy.requireTenant && this.#tenant === undefined) {
      throw new PortkeyContextError(
        'NO_TENANT',
        'This request has no tenant (the tenant option returned none) and requireTenant is set, so its gateway call was refused before anything was sent.',
      );
    }
    if (policy.maxTokens !== undefined && this.ledger.totalTokens >= policy.maxTokens) {
      throw new PortkeyContextError(
        'TOKEN_BUDGET_EXCEEDED',
        `This request has used ${this.ledger.totalTokens} tokens, reaching its budget (maxTokensPerRequest: ${policy.maxTokens}), so its gateway call was refused before anything was sent.`,
      );
    }
  }

  /**
   * Before a call is sent: the tenant resolved, then the checks. `undefined` when the call may go
   * at once; else a promise that settles when it may (or rejects with why not). Never throws.
   */
  prepare(): Promise<void> | undefined {
    if (this.#policy === undefined) return undefined;
    try {
      const resolving = this.#state === RESOLVED ? undefined : this.#resolve();
      if (resolving !== undefined) return resolving.then(() => this.#check());
      this.#check();
      return undefined;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The same, for headers built synchronously (`portkeyHeaders()`, `context.headers()`).
   *
   * @throws {@link PortkeyContextError} `TENANT_PENDING` while an async `tenant` is being resolved; the errors of {@link prepare}.
   */
  prepareSync(): void {
    if (this.#policy === undefined) return;
    if (this.#state !== RESOLVED && this.#resolve() !== undefined) {
      throw new PortkeyContextError(
        'TENANT_PENDING',
        "This request's tenant is still being resolved (the tenant option returned a promise), so its headers cannot be built synchronously yet. " +
          'Await resolvePortkeyTenant() first, or send through a client of this package (ChatPortkey, createPortkeyOpenAI, createPortkey, portkeyFetch), which waits for it.',
      );
    }
    this.#check();
  }

  /** Resolves the tenant (if the policy has one) and returns it. */
  resolveTenant(): Promise<ResolvedTenant | undefined> {
    if (this.#policy?.tenant === undefined || this.#state === RESOLVED) return Promise.resolve(this.#tenant);
    try {
      const resolving = this.#resolve();
      return resolving === undefined ? Promise.resolve(this.#tenant) : resolving.then(() => this.#tenant);
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

function tenantFailed(cause: unknown): PortkeyContextError {
  if (cause instanceof PortkeyContextError) return cause;
  const reason = cause instanceof Error ? cause.message : describeType(cause);
  return new PortkeyContextError('TENANT_RESOLUTION_FAILED', `The tenant option failed: ${reason}. The request's gateway calls are refused until it returns a tenant (or none).`, { cause });
}

/** The calls of `context` (its root's, for a nested scope), or `undefined` for a context of an older build. */
export function contextCalls(context: object): ContextCalls | undefined {
  return (context as Partial<WithCalls>)[CONTEXT_CALLS];
}

/**
 * What a client does before it sends a call made in `context`: resolve the tenant, enforce
 * `requireTenant` and the token budget. `undefined` when the call may go now (the usual case, at
 * no cost); else a promise that settles when it may, or rejects with the typed error. Never throws.
 */
export function beforeGatewayCall(context: object | undefined): Promise<void> | undefined {
  return context === undefined ? undefined : contextCalls(context)?.prepare();
}

/**
 * `send()` once a call made in `context` may go ({@link beforeGatewayCall}): at once on the usual
 * path, else when the tenant is resolved; a refused call rejects with the typed error, unsent.
 */
export function whenReadyToSend<T>(context: object | undefined, send: () => T): T | Promise<Awaited<T>> {
  const ready = beforeGatewayCall(context);
  return ready === undefined ? send() : (ready.then(send) as Promise<Awaited<T>>);
}
