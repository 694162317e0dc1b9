import { PortkeyContextError } from './errors.js';
import { asciiJson } from './ascii-json.js';
import { metadataHeader } from './metadata.js';
import type { PortkeyOptions } from './options.js';

/** Option name → header name, for every option that is sent as a plain string. */
const STRING_HEADERS = {
  apiKey: 'x-portkey-api-key',
  virtualKey: 'x-portkey-virtual-key',
  provider: 'x-portkey-provider',
  authorization: 'Authorization',
  customHost: 'x-portkey-custom-host',
  traceId: 'x-portkey-trace-id',
  cacheNamespace: 'x-portkey-cache-namespace',
  azureResourceName: 'x-portkey-azure-resource-name',
  azureDeploymentId: 'x-portkey-azure-deployment-id',
  azureApiVersion: 'x-portkey-azure-api-version',
  azureModelName: 'x-portkey-azure-model-name',
  vertexProjectId: 'x-portkey-vertex-project-id',
  vertexRegion: 'x-portkey-vertex-region',
  awsAccessKeyId: 'x-portkey-aws-access-key-id',
  awsSecretAccessKey: 'x-portkey-aws-secret-access-key',
  awsRegion: 'x-portkey-aws-region',
  awsSessionToken: 'x-portkey-aws-session-token',
  spanId: 'x-portkey-span-id',
  parentSpanId: 'x-portkey-parent-span-id',
  spanName: 'x-portkey-span-name',
} as const satisfies Partial<Record<keyof PortkeyOptions, string>>;

/** Every header name portkey-context writes, by option. */
export const PORTKEY_HEADER_NAMES = {
  ...STRING_HEADERS,
  config: 'x-portkey-config',
  metadata: 'x-portkey-metadata',
  cacheForceRefresh: 'x-portkey-cache-force-refresh',
  forwardHeaders: 'x-portkey-forward-headers',
} as const;

/** Options whose values are secrets: never echoed in an error message, redacted where they could be. */
export const SECRET_PORTKEY_OPTIONS = [
  'apiKey',
  'virtualKey',
  'authorization',
  'config',
  'awsAccessKeyId',
  'awsSecretAccessKey',
  'awsSessionToken',
] as const satisfies readonly (keyof PortkeyOptions)[];
const SECRET_OPTIONS: ReadonlySet<string> = new Set(SECRET_PORTKEY_OPTIONS);

/** Printable ASCII and tab: what every HTTP client sends without complaint. */
const SAFE_HEADER_VALUE = /^[\t\x20-\x7e]*$/;


function checkedValue(option: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new PortkeyContextError('INVALID_OPTION', `Portkey option "${option}" must be a string, got ${typeof value}.`);
  }
  if (!SAFE_HEADER_VALUE.test(value)) {
    const shown = SECRET_OPTIONS.has(option) ? '' : ` (got ${JSON.stringify(value.slice(0, 60))})`;
    throw new PortkeyContextError(
      'INVALID_HEADER_VALUE',
      `Portkey option "${option}" cannot be sent as a header: it contains a line break, NUL, control or non-ASCII character${shown}. Remove it; such values are never sent.`,
    );
  }
  return value;
}

/**
 * Maps Portkey options to the exact headers of Portkey's docs. Pure: reads no environment and no
 * request context (see {@link portkeyHeaders} for that). Every value is a string; `config` objects
 * and `metadata` are JSON with non-ASCII escaped; `metadata` is normalized ({@link normalizeMetadata}) and kept within
 * {@link METADATA_HEADER_MAX_LENGTH} ({@link metadataHeader});
 * `forwardHeaders` is comma-separated (the form the gateway honours); empty values are left out;
 * `baseURL` is not a header.
 *
 * @param options - the options to send.
 * @returns header name → value.
 * @throws {@link PortkeyContextError} `INVALID_HEADER_VALUE` when a value has CR, LF, NUL, another
 *   control character or non-ASCII text (secrets are not echoed), `INVALID_OPTION` for a wrong type.
 *
 * @example
 * ```ts
 * createPortkeyHeaders({ apiKey: 'pk-…', traceId: 'checkout-42', metadata: { _user: 'u_1' } });
 * // { 'x-portkey-api-key': 'pk-…', 'x-portkey-trace-id': 'checkout-42', 'x-portkey-metadata': '{"_user":"u_1"}' }
 * ```
 */
export function createPortkeyHeaders(options: PortkeyOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const option of Object.keys(STRING_HEADERS) as (keyof typeof STRING_HEADERS)[]) {
    const value = options[option];
    if (value === undefined || value === null || value === '') continue;
    headers[STRING_HEADERS[option]] = checkedValue(option, value);
  }
  const { config, metadata, cacheForceRefresh, forwardHeaders } = options;
  if (typeof config === 'string' ? config !== '' : config) {
    headers['x-portkey-config'] = typeof config === 'string' ? checkedValue('config', config) : asciiJson(config);
  }
  if (metadata) {
    const value = metadataHeader(metadata);
    if (value !== undefined) headers['x-portkey-metadata'] = value;
  }
  if (cacheForceRefresh !== undefined && cacheForceRefresh !== null) {
    headers['x-portkey-cache-force-refresh'] = cacheForceRefresh ? 'true' : 'false';
  }
  if (forwardHeaders && forwardHeaders.length > 0) {
    const names = forwardHeaders.map((name) => checkedValue('forwardHeaders', name).trim()).filter(Boolean);
    if (names.some((name) => name.includes(','))) {
      throw new PortkeyContextError('INVALID_OPTION', 'Portkey option "forwardHeaders" takes header names; a name cannot contain a comma.');
    }
    if (names.length > 0) headers['x-portkey-forward-headers'] = names.join(',');
  }
  return headers;
}

/**
 * Checks static options once, at construction, so a bad value fails at start-up rather than on
 * the first LLM call.
 *
 * @throws {@link PortkeyContextError} as {@link createPortkeyHeaders} does.
 */
export function assertValidPortkeyOptions(options: PortkeyOptions): void {
  createPortkeyHeaders(options);
}
