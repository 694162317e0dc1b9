import { describeType, invalidOption, PortkeyContextError } from './errors.js';
import { asciiJson } from './ascii-json.js';
import { metadataHeader } from './metadata.js';
import { ownOption } from './own.js';
import { SECRET_PORTKEY_OPTIONS } from './secrets.js';
import { isValidTraceId } from './trace-id.js';
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

/** Options whose values are never echoed in an error: secrets, the AWS region, and the custom host (a URL can carry credentials). */
const NOT_ECHOED: ReadonlySet<string> = new Set([...SECRET_PORTKEY_OPTIONS, 'awsRegion', 'customHost']);

/** Printable ASCII and tab: what every HTTP client sends without complaint. */
const SAFE_HEADER_VALUE = /^[\t\x20-\x7e]*$/;


/** Whether `value` is a plain object (`{…}` or `Object.create(null)`), not an array, class instance or function. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  try {
    const proto = Object.getPrototypeOf(value);
    return proto === Object.prototype || proto === null;
  } catch {
    return false; // a revoked or throwing Proxy
  }
}

function checkedValue(option: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidOption(option, 'a string', value);
  if (!SAFE_HEADER_VALUE.test(value)) {
    const shown = NOT_ECHOED.has(option) ? '' : ` (got ${JSON.stringify(value.slice(0, 60))})`;
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
  if (!isPlainObject(options)) throw invalidOption('options', 'an object of Portkey options', options);
  const headers: Record<string, string> = {};
  // Own properties only (a polluted Object.prototype never becomes a header), one pass: this runs on every gateway call.
  for (const option of Object.keys(options)) writePortkeyHeader(headers, option, (options as Record<string, unknown>)[option]);
  return headers;
}

/**
 * Writes the header of one Portkey option into `headers` (nothing for an empty value or a key that
 * is not an option), checked as {@link createPortkeyHeaders} checks it.
 *
 * @throws {@link PortkeyContextError} as {@link createPortkeyHeaders} does.
 */
export function writePortkeyHeader(headers: Record<string, string>, option: string, value: unknown): void {
  if (value === undefined || value === null) return;
  const header = STRING_HEADER_OF.get(option);
  if (header !== undefined) {
    if (option === 'traceId') headers[header] = checkedTraceId(value);
    else if (value !== '') headers[header] = checkedValue(option, value);
    return;
  }
  switch (option) {
    case 'baseURL': // not a header; where the request goes (see resolvePortkeyOptions)
      if (typeof value !== 'string') throw invalidOption('baseURL', 'an http(s) URL string', value);
      break;
    case 'config':
      if (value !== '') headers['x-portkey-config'] = configHeader(value);
      break;
    case 'metadata': {
      if (!isPlainObject(value)) throw invalidOption('metadata', 'an object of string values', value);
      const serialized = metadataHeader(value);
      if (serialized !== undefined) headers['x-portkey-metadata'] = serialized;
      break;
    }
    case 'cacheForceRefresh':
      if (typeof value !== 'boolean') throw invalidOption('cacheForceRefresh', 'a boolean', value);
      headers['x-portkey-cache-force-refresh'] = value ? 'true' : 'false';
      break;
    case 'forwardHeaders': {
      const names = forwardHeadersHeader(value);
      if (names) headers['x-portkey-forward-headers'] = names;
      break;
    }
  }
}

const STRING_HEADER_OF: ReadonlyMap<string, string> = new Map(Object.entries(STRING_HEADERS));

function checkedTraceId(value: unknown): string {
  if (isValidTraceId(value)) return value;
  const shown = typeof value === 'string' ? `${value.length} characters` : describeType(value);
  throw new PortkeyContextError(
    'INVALID_TRACE_ID',
    `Portkey option "traceId" must be 1-128 characters of A-Z, a-z, 0-9 and . _ : - (got ${shown}). Omit it to keep the request's trace ID.`,
  );
}

function configHeader(config: unknown): string {
  if (typeof config === 'string') return checkedValue('config', config);
  if (!isPlainObject(config)) throw invalidOption('config', 'a config slug (string) or a config object', config);
  try {
    return asciiJson(config);
  } catch {
    throw new PortkeyContextError('INVALID_OPTION', 'Portkey option "config" must be JSON-serializable (no BigInt, no cycles).');
  }
}

function forwardHeadersHeader(value: unknown): string {
  let list: unknown[];
  try {
    if (!Array.isArray(value) && !(value instanceof Set)) throw undefined;
    list = [...value];
  } catch {
    throw invalidOption('forwardHeaders', 'an array of header names', value);
  }
  const names = list.map((name) => checkedValue('forwardHeaders', name).trim()).filter(Boolean);
  if (names.some((name) => name.includes(','))) {
    throw new PortkeyContextError('INVALID_OPTION', 'Portkey option "forwardHeaders" takes header names; a name cannot contain a comma.');
  }
  return names.join(',');
}

/**
 * Refuses `baseURL` where it would be silently ignored: it is where a model sends its calls, so it
 * belongs on the model (or in `PORTKEY_BASE_URL`), not on a request, a scope or a single call.
 *
 * @throws {@link PortkeyContextError} `INVALID_OPTION` when `options` has an own `baseURL`.
 */
export function refuseBaseURL(options: object | undefined, where: string): void {
  if (ownOption(options as { baseURL?: unknown } | undefined, 'baseURL') != null) {
    throw new PortkeyContextError(
      'INVALID_OPTION',
      `Portkey option "baseURL" is where a client sends its calls: set it on the client (new ChatPortkey({ baseURL }), createPortkeyOpenAI({ baseURL }), createPortkey({ baseURL })) or in PORTKEY_BASE_URL, not on ${where}.`,
    );
  }
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
