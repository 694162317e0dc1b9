import { invalidOption, PortkeyContextError } from './errors.js';
import { isPlainObject } from './headers.js';
import { mergeMetadata } from './metadata.js';

/** Metadata attached to gateway calls; `_user`, `_organisation`, `_environment`, `_prompt` are Portkey's special keys. */
export type PortkeyMetadataRecord = Record<string, unknown>;

/**
 * Every Portkey client parameter from Portkey's SDK-client and header docs, in camelCase.
 * Each maps to exactly one header (see {@link createPortkeyHeaders}); `baseURL` is where requests go.
 */
export interface PortkeyOptions {
  /** Portkey API key → `x-portkey-api-key`. @default process.env.PORTKEY_API_KEY */
  apiKey?: string;
  /** Virtual key from Portkey's vault → `x-portkey-virtual-key`. */
  virtualKey?: string;
  /** Config slug (`pc-…`) or config object → `x-portkey-config` (objects sent as JSON). */
  config?: string | Record<string, unknown>;
  /** Provider slug such as `openai` or `anthropic` → `x-portkey-provider`. */
  provider?: string;
  /** Provider auth, sent as given (e.g. `Bearer sk-…`) → `Authorization`. */
  authorization?: string;
  /** URL of a self-hosted or private model endpoint → `x-portkey-custom-host`. */
  customHost?: string;
  /** Gateway URL. @default process.env.PORTKEY_BASE_URL ?? 'https://api.portkey.ai/v1' */
  baseURL?: string;
  /** Trace ID grouping requests in Portkey's logs → `x-portkey-trace-id`. */
  traceId?: string;
  /** Metadata for analytics and logs → `x-portkey-metadata` (JSON; values become strings of ≤ 128 chars). */
  metadata?: PortkeyMetadataRecord;
  /** Force a cache refresh → `x-portkey-cache-force-refresh`. */
  cacheForceRefresh?: boolean;
  /** Cache partition → `x-portkey-cache-namespace`. */
  cacheNamespace?: string;
  /** Headers the gateway forwards untouched to the provider → `x-portkey-forward-headers` (comma-separated). */
  forwardHeaders?: string[];
  /** Azure OpenAI resource → `x-portkey-azure-resource-name`. */
  azureResourceName?: string;
  /** Azure OpenAI deployment → `x-portkey-azure-deployment-id`. */
  azureDeploymentId?: string;
  /** Azure OpenAI API version → `x-portkey-azure-api-version`. */
  azureApiVersion?: string;
  /** Azure OpenAI model name → `x-portkey-azure-model-name`. */
  azureModelName?: string;
  /** Google Vertex AI project → `x-portkey-vertex-project-id`. */
  vertexProjectId?: string;
  /** Google Vertex AI region → `x-portkey-vertex-region`. */
  vertexRegion?: string;
  /** AWS Bedrock access key ID → `x-portkey-aws-access-key-id`. */
  awsAccessKeyId?: string;
  /** AWS Bedrock secret access key → `x-portkey-aws-secret-access-key`. */
  awsSecretAccessKey?: string;
  /** AWS Bedrock region → `x-portkey-aws-region`. */
  awsRegion?: string;
  /** AWS Bedrock session token → `x-portkey-aws-session-token`. */
  awsSessionToken?: string;
  /** Span ID of this call in the trace's span tree → `x-portkey-span-id`. */
  spanId?: string;
  /** Parent span ID → `x-portkey-parent-span-id`. */
  parentSpanId?: string;
  /** Span name shown in Portkey's trace view → `x-portkey-span-name`. */
  spanName?: string;
}

/** The default gateway, Portkey's hosted one. */
/** `PORTKEY_API_KEY`, the layer under every other. */
export function environmentDefaults(): PortkeyOptions | undefined {
  const apiKey = process.env.PORTKEY_API_KEY;
  return apiKey ? { apiKey } : undefined;
}

export const DEFAULT_PORTKEY_BASE_URL = 'https://api.portkey.ai/v1';

/** The option names of {@link PortkeyOptions}, in the order their headers are written. */
export const PORTKEY_OPTION_KEYS = [
  'apiKey',
  'virtualKey',
  'config',
  'provider',
  'authorization',
  'customHost',
  'baseURL',
  'traceId',
  'metadata',
  'cacheForceRefresh',
  'cacheNamespace',
  'forwardHeaders',
  'azureResourceName',
  'azureDeploymentId',
  'azureApiVersion',
  'azureModelName',
  'vertexProjectId',
  'vertexRegion',
  'awsAccessKeyId',
  'awsSecretAccessKey',
  'awsRegion',
  'awsSessionToken',
  'spanId',
  'parentSpanId',
  'spanName',
] as const satisfies readonly (keyof PortkeyOptions)[];

/**
 * Picks only the {@link PortkeyOptions} fields out of a larger options object: own properties only
 * (a polluted `Object.prototype` is never read), `undefined` values left out.
 */
export function pickPortkeyOptions(source: object | undefined): PortkeyOptions {
  const picked: Record<string, unknown> = {};
  if (!source) return picked;
  for (const key of PORTKEY_OPTION_KEYS) {
    if (!Object.hasOwn(source, key)) continue;
    const value = (source as Record<string, unknown>)[key];
    if (value !== undefined) picked[key] = value;
  }
  return picked as PortkeyOptions;
}

/**
 * Layers options: later layers replace earlier ones field by field, except `metadata`, which is merged.
 * Own properties only.
 *
 * @param layers - lowest precedence first; `undefined` layers are skipped.
 * @returns a new options object.
 */
export function mergePortkeyOptions(...layers: (PortkeyOptions | undefined)[]): PortkeyOptions {
  // One pass over each layer's own keys (this runs on every gateway call).
  const merged: Record<string, unknown> = {};
  let metadata: unknown;
  for (const layer of layers) {
    if (layer === undefined || layer === null) continue;
    if (!isPlainObject(layer)) throw invalidOption('options', 'an object of Portkey options', layer);
    for (const key of Object.keys(layer)) {
      if (!OPTION_KEYS.has(key)) continue;
      const value = (layer as Record<string, unknown>)[key];
      if (value === undefined) continue;
      if (key !== 'metadata') merged[key] = value;
      else metadata = layeredMetadata(metadata, value);
    }
  }
  if (metadata !== undefined) merged.metadata = metadata;
  return merged as PortkeyOptions;
}

const OPTION_KEYS: ReadonlySet<string> = new Set(PORTKEY_OPTION_KEYS);

/**
 * A layer's `metadata` over the layers' below: merged key by key; a layer without any (`null`,
 * `undefined`) keeps the others'; a value that is not an object replaces them (it is refused with a
 * clear error when headers are made).
 */
export function layeredMetadata(under: unknown, over: unknown): unknown {
  if (over === undefined || over === null) return under;
  if (!isPlainObject(over)) return over;
  return isPlainObject(under) ? mergeMetadata(under, over) : over;
}

/** `url` without trailing slashes (a loop: a regular expression for it is quadratic on hostile input). */
function trimTrailingSlashes(url: string): string {
  let end = url.length;
  while (end > 0 && url.charCodeAt(end - 1) === 47) end--;
  return url.slice(0, end);
}

/**
 * Applies the environment defaults: `apiKey` ← `PORTKEY_API_KEY`, `baseURL` ← `PORTKEY_BASE_URL`,
 * else `https://api.portkey.ai/v1` (trailing slashes are removed). Own properties only.
 *
 * @throws {@link PortkeyContextError} `INVALID_OPTION` when `baseURL` is not an http(s) URL, or
 *   carries credentials or a query string (the URL is never echoed: it may hold a key).
 */
export function resolvePortkeyOptions<T extends PortkeyOptions>(options: T, env: NodeJS.ProcessEnv = process.env): T & { baseURL: string } {
  const own = pickPortkeyOptions(options) as T;
  const given = own.baseURL ?? env.PORTKEY_BASE_URL ?? DEFAULT_PORTKEY_BASE_URL;
  if (typeof given !== 'string') {
    throw new PortkeyContextError('INVALID_OPTION', `Portkey option "baseURL" must be a string, got ${given === null ? 'null' : typeof given}.`);
  }
  const baseURL = trimTrailingSlashes(given);
  let parsed: URL | undefined;
  try {
    parsed = /^https?:\/\/[^\s]+$/i.test(baseURL) ? new URL(baseURL) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed) {
    throw new PortkeyContextError(
      'INVALID_OPTION',
      `baseURL must be an http(s) URL such as https://api.portkey.ai/v1 or http://localhost:8787/v1 (got ${baseURL.length} characters that are not one).`,
    );
  }
  // `?` / `#` checked on the text: an empty query or fragment parses as none.
  if (parsed.username || parsed.password || given.includes('?') || given.includes('#')) {
    throw new PortkeyContextError(
      'INVALID_OPTION',
      'baseURL must not contain credentials, a query string or a fragment: send keys as Portkey options (apiKey, authorization, …), which are sent as headers.',
    );
  }
  const apiKey = own.apiKey ?? env.PORTKEY_API_KEY;
  return { ...own, ...(apiKey ? { apiKey } : {}), baseURL };
}
