/**
 * The one place that knows what is secret in a set of Portkey options: keys, provider auth, the
 * credential fields of a config object, credentials inside URLs. Error messages, serialization and
 * tracing payloads ask it what to hide.
 */
import type { PortkeyOptions } from './options.js';

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

/** Field names inside a config object (or headers) whose values are credentials. */
const SECRET_FIELD = /key|secret|token|password|passwd|auth|credential|signature/i;
/** Shorter values are not redacted: they would mangle ordinary text. */
const MIN_SECRET_LENGTH = 4;

function add(out: Set<string>, value: unknown): void {
  if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH) return;
  out.add(value);
  // `Bearer sk-…`: the token alone is as secret as the header value.
  const token = /^\S+\s+(\S{4,})$/.exec(value)?.[1];
  if (token) out.add(token);
}

function addSecretFields(out: Set<string>, value: unknown, depth: number): void {
  if (depth > 6 || typeof value !== 'object' || value === null) return;
  for (const key of Object.keys(value)) {
    const field = (value as Record<string, unknown>)[key];
    if (typeof field === 'string') {
      if (SECRET_FIELD.test(key)) add(out, field);
    } else addSecretFields(out, field, depth + 1);
  }
}

/** Credentials a URL carries: its user name, password and query-string values. */
export function urlSecrets(url: unknown): string[] {
  if (typeof url !== 'string') return [];
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  const out = new Set<string>();
  add(out, decodeURIComponent(parsed.username));
  add(out, decodeURIComponent(parsed.password));
  add(out, parsed.username);
  add(out, parsed.password);
  for (const value of parsed.searchParams.values()) add(out, value);
  return [...out];
}

/**
 * Every secret value in `options`: the {@link SECRET_PORTKEY_OPTIONS} (and the token of an
 * `authorization` scheme), credential fields of an object `config` (`api_key`, `aws_secret_access_key`, …,
 * at any depth), and credentials inside `baseURL` and `customHost`.
 *
 * @param options - the options of a call, from every layer merged.
 * @param extra - more secret-bearing values: header objects (e.g. `configuration.defaultHeaders`,
 *   whose every value counts as secret) or strings.
 */
export function secretValues(options: PortkeyOptions | undefined, ...extra: unknown[]): string[] {
  const out = new Set<string>();
  if (options) {
    for (const key of SECRET_PORTKEY_OPTIONS) {
      const value = Object.hasOwn(options, key) ? options[key] : undefined;
      if (typeof value === 'object') addSecretFields(out, value, 0);
      else add(out, value);
    }
    for (const url of [options.baseURL, options.customHost]) for (const secret of urlSecrets(url)) out.add(secret);
  }
  for (const value of extra) {
    if (typeof value === 'string') add(out, value);
    else if (value && typeof value === 'object') for (const field of Object.values(value)) add(out, field);
  }
  return [...out];
}

/** `text` with every secret replaced by `[redacted]`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= MIN_SECRET_LENGTH && out.includes(secret)) out = out.split(secret).join('[redacted]');
  }
  return out;
}

/** A URL fit for a message: without user name, password, query or fragment. */
export function displayURL(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    parsed.search = '';
    parsed.hash = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '[invalid URL]';
  }
}
