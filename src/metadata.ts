import { asciiJson } from './ascii-json.js';
import type { PortkeyMetadataRecord } from './options.js';

/** Portkey's limit on a metadata value, in characters; longer values are truncated to it. */
export const METADATA_VALUE_MAX_LENGTH = 128;
/** Longest metadata key kept; longer or empty keys are dropped. */
export const METADATA_KEY_MAX_LENGTH = 128;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this strips
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the same set, tested without the global flag's state
const HAS_CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function truncate(value: string, max: number): string {
  if (value.length <= max) return value;
  let cut = value.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1); // never split a surrogate pair
  return cut;
}

function toMetadataString(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return Number.isFinite(value) ? String(value) : undefined;
    case 'boolean':
    case 'bigint':
      return String(value);
    default:
      return value instanceof Date && !Number.isNaN(value.getTime()) ? value.toISOString() : undefined;
  }
}

/**
 * Makes metadata safe for Portkey: every value a string (numbers, booleans and dates converted;
 * `null`, `undefined`, objects and functions dropped), control characters removed, values cut to
 * {@link METADATA_VALUE_MAX_LENGTH} characters, empty or over-long keys dropped.
 * Never throws, whatever it is given.
 *
 * @returns a new plain object of strings.
 */
export function normalizeMetadata(metadata: PortkeyMetadataRecord | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!metadata || typeof metadata !== 'object') return out;
  let keys: string[];
  try {
    keys = Object.keys(metadata);
  } catch {
    return out; // a revoked or throwing Proxy
  }
  for (const key of keys) {
    if (!key || key.length > METADATA_KEY_MAX_LENGTH || key === '__proto__') continue;
    let str: string | undefined;
    try {
      str = toMetadataString(metadata[key]);
    } catch {
      continue; // a throwing getter
    }
    if (str === undefined) continue;
    // Cut before cleaning, so a huge value costs no more than a short one.
    const cut = str.length > CLEAN_AT_MOST ? str.slice(0, CLEAN_AT_MOST) : str;
    out[key] = truncate(HAS_CONTROL_CHARS.test(cut) ? cut.replace(CONTROL_CHARS, '') : cut, METADATA_VALUE_MAX_LENGTH);
  }
  return out;
}

/** Characters of a metadata value looked at: enough for 128 after control characters are removed, in all but hostile input. */
const CLEAN_AT_MOST = METADATA_VALUE_MAX_LENGTH * 8;

/**
 * Longest `x-portkey-metadata` header sent, in characters (the JSON, non-ASCII escaped). The
 * gateway refuses a request whose headers pass ~16 KB (`431`, empty body); 4 KB of metadata leaves
 * room for everything else a call sends.
 */
export const METADATA_HEADER_MAX_LENGTH = 4096;

/** Portkey's special metadata keys: placed first, so they are the last to be dropped. */
const SPECIAL_KEYS = ['_user', '_organisation', '_environment', '_prompt'] as const;

/**
 * The `x-portkey-metadata` header value for `metadata`, or `undefined` when nothing is left to send.
 * Metadata is normalized ({@link normalizeMetadata}), then kept within `maxLength` characters by a
 * fixed rule: Portkey's special keys (`_user`, `_organisation`, `_environment`, `_prompt`) first,
 * then the other keys in the order they were set; each entry is kept if it still fits, else dropped.
 * So what is dropped is always the entries that come last in that order. Never throws.
 *
 * @param metadata - the merged metadata of a call.
 * @param maxLength - the budget in characters. @default METADATA_HEADER_MAX_LENGTH
 */
export function metadataHeader(metadata: PortkeyMetadataRecord | undefined, maxLength: number = METADATA_HEADER_MAX_LENGTH): string | undefined {
  const normalized = normalizeMetadata(metadata);
  const keys = Object.keys(normalized);
  if (keys.length === 0) return undefined;
  const whole = asciiJson(normalized);
  if (whole.length <= maxLength) return whole;
  const ordered = [...SPECIAL_KEYS.filter((key) => key in normalized), ...keys.filter((key) => !(SPECIAL_KEYS as readonly string[]).includes(key))];
  const entries: string[] = [];
  let length = 2; // {}
  for (const key of ordered) {
    const entry = `${asciiJson(key)}:${asciiJson(normalized[key])}`;
    const added = entry.length + (entries.length > 0 ? 1 : 0);
    if (length + added > maxLength) continue;
    entries.push(entry);
    length += added;
  }
  return entries.length > 0 ? `{${entries.join(',')}}` : undefined;
}

/**
 * `base` with `over`'s entries on top, copied key by key: a throwing getter or a revoked Proxy
 * costs its entries, never the call.
 */
export function mergeMetadata(base: PortkeyMetadataRecord | undefined, over: PortkeyMetadataRecord | undefined): PortkeyMetadataRecord {
  const out: PortkeyMetadataRecord = {};
  for (const source of [base, over]) {
    if (!source || typeof source !== 'object') continue;
    let keys: string[];
    try {
      keys = Object.keys(source);
    } catch {
      continue;
    }
    for (const key of keys) {
      if (key === '__proto__') continue;
      try {
        out[key] = source[key];
      } catch {}
    }
  }
  return out;
}

function firstId(source: unknown, keys: readonly string[]): unknown {
  if (typeof source !== 'object' || source === null) return undefined;
  for (const key of keys) {
    const value = (source as Record<string, unknown>)[key];
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') return value;
    if (typeof value === 'object' && value !== null && key !== 'id') {
      const nested = (value as Record<string, unknown>).id;
      if (typeof nested === 'string' || typeof nested === 'number') return nested;
    }
  }
  return undefined;
}

const USER_ID_KEYS = ['id', 'sub', '_id', 'userId', 'email', 'username'] as const;
const ORGANISATION_KEYS = [
  'organisationId',
  'organizationId',
  'orgId',
  'org_id',
  'tenantId',
  'tenant_id',
  'organisation',
  'organization',
  'org',
  'tenant',
] as const;

/**
 * The default user → metadata mapping: `_user` from the user's `id`, `sub`, `_id`, `userId`,
 * `email` or `username` (the first present; a string or number user is the id itself) and
 * `_organisation` from an organisation or tenant id on the user (`organisationId`, `organizationId`,
 * `orgId`, `tenantId`, or `organisation.id` / `tenant.id`…). Never throws: a user object whose
 * getters throw (or a revoked Proxy) gives what could be read.
 *
 * @param user - whatever the app's auth put on the request (`req.user`).
 */
export function userMetadata(user: unknown): PortkeyMetadataRecord {
  if (user === undefined || user === null) return {};
  if (typeof user === 'string' || typeof user === 'number') return { _user: user };
  const metadata: PortkeyMetadataRecord = {};
  // Auth objects are not ours: a throwing getter or a revoked Proxy costs the user id, never the request.
  try {
    const id = firstId(user, USER_ID_KEYS);
    if (id !== undefined) metadata._user = id;
  } catch {}
  try {
    const organisation = firstId(user, ORGANISATION_KEYS);
    if (organisation !== undefined) metadata._organisation = organisation;
  } catch {}
  return metadata;
}
