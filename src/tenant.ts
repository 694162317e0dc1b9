/**
 * Per-tenant routing: which Portkey key, virtual key, config, cache namespace and metadata one
 * customer's calls use. Checked when resolved, since it comes from the app's data at run time.
 */
import { describeType, PortkeyContextError } from './errors.js';
import { assertValidPortkeyOptions, isPlainObject } from './headers.js';
import { type PortkeyMetadataRecord, type PortkeyOptions, pickPortkeyOptions } from './options.js';

/**
 * The Portkey options of one tenant: its `id` and the options its calls use — `apiKey`,
 * `virtualKey`, `config`, `provider` and provider auth, `cacheNamespace`, `metadata`, … (every
 * {@link PortkeyOptions} field but the per-call ones: `traceId`, the span fields, `baseURL`).
 */
export interface TenantRouting extends Omit<PortkeyOptions, 'traceId' | 'spanId' | 'parentSpanId' | 'spanName' | 'baseURL'> {
  /**
   * The tenant's ID: in the usage summary, and the cache namespace when `cacheNamespace` is not given.
   */
  id: string;
}

/** Options that name one call or the gateway's URL: not a tenant's to set. */
const NOT_TENANT_OPTIONS = ['traceId', 'spanId', 'parentSpanId', 'spanName', 'baseURL'] as const;

/** A tenant, as a context keeps it once resolved. */
export interface ResolvedTenant {
  id: string;
  /** The tenant's Portkey options (no metadata), `cacheNamespace` defaulted to the ID. */
  options: PortkeyOptions;
  metadata: PortkeyMetadataRecord | undefined;
  /** Every cache namespace a call of this tenant uses is this one, or under it (`<namespace>/…`). */
  cacheNamespace: string;
}

function invalidTenant(problem: string): PortkeyContextError {
  return new PortkeyContextError('TENANT_RESOLUTION_FAILED', `The tenant option returned ${problem}. Calls of this request are refused until it returns { id, …Portkey options } or undefined (no tenant).`);
}

/**
 * Checks what a `tenant` option returned and makes it a {@link ResolvedTenant}; `undefined` / `null`
 * is "no tenant".
 *
 * @throws {@link PortkeyContextError} `TENANT_RESOLUTION_FAILED` for anything else than a routing with a non-empty `id` and options that can be headers.
 */
export function checkedTenant(value: unknown): ResolvedTenant | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value)) throw invalidTenant(describeType(value));
  const id = Object.hasOwn(value, 'id') ? value.id : undefined;
  if (typeof id !== 'string' || id.trim() === '') throw invalidTenant('a routing without an "id" (a non-empty string)');
  const options = pickPortkeyOptions(value) as Record<string, unknown>;
  for (const key of NOT_TENANT_OPTIONS) if (options[key] !== undefined) throw invalidTenant(`"${key}", which is not a tenant's to set`);
  const { metadata, ...rest } = options as PortkeyOptions;
  if (metadata !== undefined && metadata !== null && !isPlainObject(metadata)) throw invalidTenant('"metadata" that is not an object');
  const cacheNamespace = (rest.cacheNamespace ?? id) as string;
  // "/" separates a tenant's namespace from a call's: in the tenant's own, two tenants could meet.
  if (typeof cacheNamespace !== 'string' || cacheNamespace.includes('/')) {
    throw invalidTenant(`a cache namespace (its "cacheNamespace", else its "id") that ${typeof cacheNamespace !== 'string' ? 'is not a string' : 'contains "/"'}`);
  }
  const routing: PortkeyOptions = { ...rest, cacheNamespace };
  try {
    assertValidPortkeyOptions({ ...routing, metadata: metadata ?? undefined });
  } catch (cause) {
    throw new PortkeyContextError('TENANT_RESOLUTION_FAILED', `The tenant option returned options that cannot be sent: ${(cause as Error).message}`, { cause });
  }
  return { id, options: routing, metadata: metadata ?? undefined, cacheNamespace };
}

/**
 * A call's cache namespace under its tenant's: the tenant's own when the call names none or the
 * tenant's, else `<tenant namespace>/<the call's>` — two tenants never share cache entries.
 */
export function tenantCacheNamespace(tenant: ResolvedTenant, namespace: string | undefined): string {
  if (namespace === undefined || namespace === tenant.cacheNamespace || namespace.startsWith(`${tenant.cacheNamespace}/`)) return namespace ?? tenant.cacheNamespace;
  return `${tenant.cacheNamespace}/${namespace}`;
}
