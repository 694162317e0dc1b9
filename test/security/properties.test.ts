/**
 * Property-based security tests of the documented contract (README: "Options", "Metadata policy",
 * "How the context flows", "Errors"; the JSDoc of `createPortkeyHeaders`, `normalizeMetadata`,
 * `metadataHeader`, `readTraceId`, `parseTraceparent`).
 *
 * Most families collect every violation they meet instead of stopping at the first one (fast-check
 * would stop and shrink), so one known violation never hides another: each test ends with
 * `expect(violations.list()).toEqual([])`, which prints one category per line with its count and
 * its shortest example. Every oracle says, next to it, what bug it catches.
 */
import { createServer as createTcpServer, connect } from 'node:net';
import { inspect } from 'node:util';
import express from 'express';
import fc from 'fast-check';
import {
  createPortkeyHeaders,
  PortkeyContextError,
  portkeyHeaders,
  readTraceId,
  runWithPortkeyContext,
  tryGetPortkeyContext,
  withPortkeyOverrides,
} from 'portkey-context';
import { createRequestContextFactory } from '../../src/request-context.js';
import { PORTKEY_OPTION_KEYS } from '../../src/options.js';
import { portkeyMiddleware } from 'portkey-context/express';
import { ChatPortkey } from 'portkey-context/langchain';
import { PortkeyModule } from 'portkey-context/nestjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveOnLoopback } from '../harness/index.js';

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/** Violations found by a property, by category, each with its count, shortest example and variants seen. */
class Violations {
  readonly #found = new Map<string, { example: string; count: number; variants: Set<string> }>();

  /** `example` may be a function: it is called only for the first occurrences of a category (showing values costs). */
  add(category: string, example: string | (() => string), variant?: string): void {
    let seen = this.#found.get(category);
    if (!seen) {
      seen = { example: typeof example === 'string' ? example : example(), count: 0, variants: new Set() };
      this.#found.set(category, seen);
    } else if (seen.count < 20) {
      const text = typeof example === 'string' ? example : example();
      if (text.length < seen.example.length) seen.example = text;
    }
    seen.count++;
    if (variant !== undefined) seen.variants.add(variant);
  }

  list(): string[] {
    return [...this.#found].map(([category, { example, count, variants }]) => {
      const kinds = variants.size ? ` [${[...variants].sort().join(', ')}]` : '';
      return `${category}${kinds} (x${count})${example ? ` e.g. ${example}` : ''}`;
    });
  }
}

/** Names given to hostile values when they are made: showing them must never touch a trap. */
const labels = new WeakMap<object, string>();
function labelled<T extends object>(name: string, value: T): T {
  labels.set(value, name);
  return value;
}

/** A short, never-throwing description of any value. */
function show(value: unknown): string {
  if (typeof value === 'string') return value.length > 100 ? `${JSON.stringify(value.slice(0, 100))}…(${value.length} chars)` : JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return value.toString();
  if ((typeof value === 'object' && value !== null) || typeof value === 'function') {
    const name = labels.get(value);
    if (name) return `<${name}>`;
  }
  try {
    return inspect(value, { depth: 2, breakLength: Number.POSITIVE_INFINITY, maxArrayLength: 8, maxStringLength: 60, showProxy: true }).slice(0, 300);
  } catch {
    return '<uninspectable>';
  }
}

function showOptions(pairs: readonly (readonly [string, unknown])[]): string {
  return `{ ${pairs.map(([k, v]) => `${k}: ${show(v)}`).join(', ')} }`;
}

/** What an error is, for a violation category (never its full message, which may be long). */
function errorKind(error: unknown): string {
  if (error instanceof PortkeyContextError) return `PortkeyContextError ${error.code}`;
  if (error instanceof Error) return `${error.constructor?.name ?? 'Error'}: ${error.message.slice(0, 90)}`;
  return `non-Error thrown: ${show(error)}`;
}

/** Every string an error exposes: message, stack, and the same along its cause chain. */
function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    if (current instanceof Error) {
      parts.push(current.message, String(current.stack ?? ''));
      current = (current as { cause?: unknown }).cause;
    } else {
      parts.push(typeof current === 'string' ? current : '');
      break;
    }
  }
  return parts.join('\n');
}

/**
 * Whether `text` shows `secret` or a 12-character piece of it (an echo cut at N characters is still an
 * echo). Pieces that also occur in `shareable` (values of options that may be echoed) do not count.
 */
function showsSecret(text: string, secret: string, shareable: readonly string[] = []): boolean {
  if (text.includes(secret) && !shareable.some((v) => v.includes(secret))) return true;
  if (secret.length < 12) return false;
  for (let i = 0; i + 12 <= secret.length; i++) {
    const piece = secret.slice(i, i + 12);
    if (text.includes(piece) && !shareable.some((v) => v.includes(piece))) return true;
  }
  return false;
}

/** Printable ASCII only: what a header value built by the library must be. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** Printable ASCII and tab: the README's rule for a plain value that may be sent. */
const SENDABLE = /^[\t\x20-\x7e]*$/;
const TRACE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const GENERATED_TRACE_ID = /^[0-9a-f]{32}$/;
const NODE_ENV = process.env.NODE_ENV;

function lowerKeys(headers: Record<string, string | null | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (typeof v === 'string') out[k.toLowerCase()] = v;
  return out;
}

// ---------------------------------------------------------------------------------------------
// The metadata policy, written from the README (an independent model of normalizeMetadata and
// metadataHeader): values → strings (numbers, booleans, bigints, valid dates), other types
// dropped, control characters removed, cut to 128 characters (never inside a surrogate pair);
// empty or over-long keys dropped; header ≤ 4096 characters, special keys first, then the others
// in order, each kept if it still fits.
// Two details come from the source, not the README: a value is cleaned from its first 1024
// characters only ("cut before cleaning", so a huge value costs no more than a short one), and a
// `__proto__` key is dropped.
// ---------------------------------------------------------------------------------------------

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const SPECIAL_KEYS = ['_user', '_organisation', '_environment', '_prompt'];

/** Length of `value`'s JSON with every character from U+007F up escaped as `\\uXXXX` (6 characters instead of 1). */
function asciiJsonLength(value: unknown): number {
  const json = JSON.stringify(value);
  let length = json.length;
  for (let i = 0; i < json.length; i++) if (json.charCodeAt(i) >= 0x7f) length += 5;
  return length;
}

function modelMetadataValue(value: unknown): string | undefined {
  let text: string | undefined;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number') text = Number.isFinite(value) ? String(value) : undefined;
  else if (typeof value === 'boolean' || typeof value === 'bigint') text = String(value);
  else if (value instanceof Date) text = Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  if (text === undefined) return undefined;
  text = text.slice(0, 1024).replace(CONTROL_CHARS, '');
  if (text.length > 128) {
    text = text.slice(0, 128);
    const last = text.charCodeAt(127);
    if (last >= 0xd800 && last <= 0xdbff) text = text.slice(0, 127);
  }
  return text;
}

/** The metadata object the header should carry for `metadata` (a plain object of plain data). */
function modelMetadataHeader(metadata: Record<string, unknown>): Record<string, string> | undefined {
  const normalized: Record<string, string> = {};
  for (const key of Object.keys(metadata)) {
    if (key.length === 0 || key.length > 128 || key === '__proto__') continue;
    const value = modelMetadataValue(metadata[key]);
    if (value !== undefined) normalized[key] = value;
  }
  const keys = Object.keys(normalized);
  if (keys.length === 0) return undefined;
  if (asciiJsonLength(normalized) <= 4096) return normalized;
  const ordered = [...SPECIAL_KEYS.filter((k) => k in normalized), ...keys.filter((k) => !SPECIAL_KEYS.includes(k))];
  const kept: Record<string, string> = {};
  let length = 2;
  for (const key of ordered) {
    const entry = asciiJsonLength(key) + 1 + asciiJsonLength(normalized[key]) + (Object.keys(kept).length > 0 ? 1 : 0);
    if (length + entry > 4096) continue;
    kept[key] = normalized[key]!;
    length += entry;
  }
  return Object.keys(kept).length > 0 ? kept : undefined;
}

/** Problems with an `x-portkey-metadata` value: the shape the README promises, whatever went in. */
function metadataShapeProblems(header: string | undefined): string[] {
  if (header === undefined) return [];
  const problems: string[] = [];
  // Catches: non-ASCII, CR/LF or other control characters reaching a header (fetch would refuse it, or it would split the header).
  if (!PRINTABLE_ASCII.test(header)) problems.push('x-portkey-metadata is not printable ASCII');
  // Catches: metadata not kept within METADATA_HEADER_MAX_LENGTH (the gateway answers 431 past ~16 KB of headers).
  if (header.length > 4096) problems.push('x-portkey-metadata is over 4096 characters');
  let parsed: unknown;
  try {
    parsed = JSON.parse(header);
  } catch {
    // Catches: truncation or concatenation producing invalid JSON.
    problems.push('x-portkey-metadata is not JSON');
    return problems;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) problems.push('x-portkey-metadata is not a JSON object');
  else {
    for (const [key, value] of Object.entries(parsed)) {
      // Catches: non-string values (numbers, nested objects) or values over Portkey's 128-character limit being sent.
      if (typeof value !== 'string') problems.push('x-portkey-metadata has a non-string value');
      else if (value.length > 128) problems.push('x-portkey-metadata has a value over 128 characters');
      // Catches: empty or over-long keys kept.
      if (key.length === 0 || key.length > 128) problems.push('x-portkey-metadata has an empty or over-long key');
    }
  }
  return problems;
}

function sameRecord(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b ?? {}).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a![k] === b![k]);
}

function parseMetadataHeader(header: string | undefined): Record<string, string> | undefined {
  if (header === undefined) return undefined;
  try {
    return JSON.parse(header);
  } catch {
    return { '<not JSON>': header };
  }
}

// ---------------------------------------------------------------------------------------------
// A recording fetch for ChatPortkey (configuration.fetch): what each model call sent.
// ---------------------------------------------------------------------------------------------

interface Recorded {
  url: string;
  headers: Record<string, string>;
}

function cannedCompletion(): Response {
  return new Response(
    JSON.stringify({
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    }),
    { status: 200, headers: { 'content-type': 'application/json' } },
  );
}

/** Records each request, then answers a canned completion (`'canned'`) or sends it for real (`'network'`). */
function recordingFetch(sink: Recorded[], then: 'canned' | 'network'): typeof fetch {
  return async (input, init) => {
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    sink.push({ url, headers });
    return then === 'network' ? fetch(input, init) : cannedCompletion();
  };
}

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const savedEnv = { PORTKEY_API_KEY: process.env.PORTKEY_API_KEY, PORTKEY_BASE_URL: process.env.PORTKEY_BASE_URL };
beforeAll(() => {
  delete process.env.PORTKEY_API_KEY;
  delete process.env.PORTKEY_BASE_URL;
});
afterAll(() => {
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

// =============================================================================================
// 1. Incoming trace headers over a raw socket
// =============================================================================================

const SOURCES = ['x-portkey-trace-id', 'x-request-id', 'x-correlation-id', 'traceparent'] as const;

/** W3C Trace Context `traceparent`: the trace-id of a valid header, else undefined. */
function w3cTraceId(value: string): string | undefined {
  // HTTP strips spaces and tabs around a field value (optional whitespace); nothing else is trimmed.
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(.*)$/.exec(value.replace(/^[ \t]+|[ \t]+$/g, ''));
  if (!m) return undefined;
  const [, version, traceId, parentId, , rest] = m;
  if (version === 'ff' || /^0+$/.test(traceId!) || /^0+$/.test(parentId!)) return undefined;
  if (version === '00' ? rest !== '' : rest !== '' && !rest!.startsWith('-')) return undefined;
  // Documented deviation: a comma means a repeated header (Node joins repeats with ", "), which is
  // refused, even though a future version's extra fields could in theory hold one.
  if (rest!.includes(',')) return undefined;
  return traceId;
}

/**
 * A trace-id a lenient reader could take from a traceparent the spec calls invalid (upper-case hex,
 * trailing data after a version-00 header, version ff, an all-zero parent-id, Unicode spaces
 * around it). The socket property tolerates those (the W3C property below reports them); it never
 * tolerates them for a repeated header.
 */
function lenientTraceId(value: string): string | undefined {
  const m = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}/.exec(value.trim().toLowerCase());
  return m && !/^0+$/.test(m[1]!) ? m[1] : undefined;
}

type Expected = { kind: 'incoming'; value: string } | { kind: 'fresh' } | { kind: 'either'; value: string };

/** The trace ID the README's rules give for a request's raw headers (name/value pairs as received). */
function expectedTraceId(rawHeaders: readonly string[]): Expected {
  for (const source of SOURCES) {
    const values: string[] = [];
    for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === source) values.push(rawHeaders[i + 1]!);
    // "Invalid values (wrong characters, too long, repeated headers) are skipped" (readTraceId).
    if (values.length !== 1) continue;
    const value = values[0]!;
    if (source !== 'traceparent') {
      if (TRACE_ID.test(value)) return { kind: 'incoming', value };
      continue;
    }
    const strict = w3cTraceId(value);
    if (strict) return { kind: 'incoming', value: strict };
    const lenient = lenientTraceId(value);
    if (lenient) return { kind: 'either', value: lenient };
  }
  return { kind: 'fresh' };
}

/** One generated request: header lines as raw bytes, in order. */
interface RawRequest {
  lines: { name: string; value: Uint8Array }[];
}

const latin1 = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));

const validTraceparent = fc.tuple(hex(32), hex(16), fc.constantFrom('00', '01')).map(([t, p, f]) => `00-${t}-${p}-${f}`);
const traceparentValue = fc.oneof(
  validTraceparent,
  validTraceparent.map((v) => v.toUpperCase()),
  fc.tuple(hex(16), fc.constantFrom('00', '01')).map(([p, f]) => `00-${'0'.repeat(32)}-${p}-${f}`),
  fc.tuple(hex(32), fc.constantFrom('00', '01')).map(([t, f]) => `00-${t}-${'0'.repeat(16)}-${f}`),
  validTraceparent.map((v) => `ff${v.slice(2)}`),
  fc.tuple(validTraceparent, fc.string({ maxLength: 20 })).map(([v, junk]) => `${v}${junk}`),
  fc.tuple(validTraceparent, fc.string({ maxLength: 20 })).map(([v, junk]) => `cc${v.slice(2)}-${junk}`),
  fc.tuple(validTraceparent, fc.integer({ min: 1, max: 54 })).map(([v, n]) => v.slice(0, n)),
);
const INJECTIONS = [
  'abc\r\nx-injected: 1',
  'abc\nx-injected: 1',
  'abc\rx-injected: 1',
  'abc\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\nx-injected: 1',
  '\r\nx-injected: 1',
  'abc%0d%0ax-injected:%201',
  'abc\u0000x-injected: 1',
];

const headerValueBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/).map(latin1) },
  { weight: 1, arbitrary: fc.constantFrom('a'.repeat(128), 'b'.repeat(129), '').map(latin1) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/), fc.constantFrom(' ', ',', '/', '+', '=', '@', '"', '\t', '\u00e9', '\u00a0', ';'), fc.nat())
      .map(([id, bad, at]) => latin1(id.slice(0, at % (id.length + 1)) + bad + id.slice(at % (id.length + 1)))),
  },
  { weight: 1, arbitrary: fc.tuple(fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/), fc.constantFrom(' ', '\t', '  \t')).map(([id, ws]) => latin1(`${ws}${id}${ws}`)) },
  { weight: 1, arbitrary: fc.integer({ min: 129, max: 8192 }).map((n) => latin1('Ab9._:-'.repeat(Math.ceil(n / 7)).slice(0, n))) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map(utf8) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 48 }) },
  { weight: 2, arbitrary: fc.constantFrom(...INJECTIONS).map(latin1) },
  { weight: 3, arbitrary: traceparentValue.map(latin1) },
);

const nameCase = (name: string) =>
  fc.constantFrom(
    name,
    name.toUpperCase(),
    name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase()),
  );

const CLIENT_PORTKEY_HEADERS = [
  'x-portkey-api-key',
  'x-portkey-virtual-key',
  'x-portkey-config',
  'x-portkey-metadata',
  'x-portkey-provider',
  'x-portkey-custom-host',
  'x-portkey-cache-force-refresh',
  'x-portkey-forward-headers',
  'authorization',
];

const sourceLines = (source: (typeof SOURCES)[number]) =>
  fc.option(
    fc.array(fc.tuple(nameCase(source), source === 'traceparent' ? fc.oneof(traceparentValue.map(latin1), headerValueBytes) : headerValueBytes), { minLength: 1, maxLength: 3 }),
    { nil: undefined, freq: 2 },
  );

const rawRequest: fc.Arbitrary<RawRequest> = fc
  .record({
    sources: fc.tuple(sourceLines(SOURCES[0]), sourceLines(SOURCES[1]), sourceLines(SOURCES[2]), sourceLines(SOURCES[3])),
    clientPortkey: fc.subarray(CLIENT_PORTKEY_HEADERS),
    order: fc.array(fc.nat(), { minLength: 24, maxLength: 24 }),
  })
  .map(({ sources, clientPortkey, order }) => {
    const lines: { name: string; value: Uint8Array }[] = [];
    for (const group of sources) for (const [name, value] of group ?? []) lines.push({ name, value });
    for (const name of clientPortkey) lines.push({ name, value: latin1(`client-sent-${name}`) });
    // a generated order, so repeated headers are not always adjacent
    const keyed = lines.map((line, i) => ({ line, key: order[i % order.length]! * 31 + i }));
    keyed.sort((x, y) => x.key - y.key);
    return { lines: keyed.map((k) => k.line) };
  });

function encodeRequest(request: RawRequest): Buffer {
  const parts: Buffer[] = [Buffer.from('GET /trace HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n', 'latin1')];
  for (const { name, value } of request.lines) parts.push(Buffer.from(`${name}: `, 'latin1'), Buffer.from(value), Buffer.from('\r\n', 'latin1'));
  parts.push(Buffer.from('\r\n', 'latin1'));
  return Buffer.concat(parts);
}

/** Whether Node's parser must accept the request: token names, no CTL but tab in values, well under 16 KiB. */
function isCleanRequest(request: RawRequest, encoded: Buffer): boolean {
  return (
    encoded.length < 14_000 &&
    request.lines.every(({ value }) => value.every((byte) => byte === 9 || (byte >= 0x20 && byte !== 0x7f)))
  );
}

interface RawResponse {
  raw: string;
  error?: string;
}

function sendRaw(port: number, payload: Buffer): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let error: string | undefined;
    const timer = setTimeout(() => {
      error = 'timeout';
      socket.destroy();
    }, 5000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error ??= e.code ?? e.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ raw: Buffer.concat(chunks).toString('latin1'), error });
    });
    socket.end(payload);
  });
}

interface ParsedResponse {
  status: number;
  headers: [string, string][];
  body: string;
}

function parseFirstResponse(raw: string): ParsedResponse | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1]);
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
  });
  const length = Number(headers.find(([n]) => n === 'content-length')?.[1] ?? 0);
  return { status, headers, body: Buffer.from(raw.slice(end + 4, end + 4 + length), 'latin1').toString('utf8') };
}

/** Response headers an Express 5 JSON response (or Node's parser error) may carry. */
const ALLOWED_RESPONSE_HEADERS = new Set(['x-powered-by', 'x-portkey-trace-id', 'content-type', 'content-length', 'etag', 'date', 'connection', 'keep-alive']);

describe('1. incoming trace headers over a raw socket (Express 5 + portkeyMiddleware)', () => {
  it('every response is a 200 with the right trace ID or a 4xx from Node, never an injected header or a client-chosen x-portkey value', async () => {
    const previousKey = process.env.PORTKEY_API_KEY;
    process.env.PORTKEY_API_KEY = 'pk-env-app-key-0001';
    const app = express();
    app.use(portkeyMiddleware({ virtualKey: 'vk-app-default', metadata: { app: 'svc' } }));
    app.get('/trace', (req, res) => {
      const raw: string[] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if ((SOURCES as readonly string[]).includes(req.rawHeaders[i]!.toLowerCase())) raw.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
      }
      res.json({ traceId: req.portkey.traceId, headers: req.portkey.headers(), raw });
    });
    const server = await serveOnLoopback(app);
    const port = Number(new URL(server.url).port);
    const expectedPortkeyHeaders = (traceId: string) => ({
      'x-portkey-api-key': 'pk-env-app-key-0001',
      'x-portkey-virtual-key': 'vk-app-default',
      'x-portkey-trace-id': traceId,
      'x-portkey-metadata': JSON.stringify({ ...(NODE_ENV ? { _environment: NODE_ENV } : {}), app: 'svc' }),
    });
    const violations = new Violations();
    const counts = { requests: 0, ok: 0, incoming: 0, fresh: 0, parserRejected: 0 };
    const seenTraceIds = new Set<string>();
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(rawRequest, { minLength: 1, maxLength: 8 }), async (batch) => {
          const payloads = batch.map(encodeRequest);
          const responses = await Promise.all(payloads.map((payload) => sendRaw(port, payload)));
          const batchTraceIds = new Set<string>();
          responses.forEach((response, i) => {
            counts.requests++;
            const request = batch[i]!;
            const example = () => JSON.stringify(payloads[i]!.toString('latin1').slice(0, 400));
            const clean = isCleanRequest(request, payloads[i]!);
            // Catches: a header section that echoes input — response splitting through a reflected trace ID.
            if (/(^|\r\n)x-injected\s*:/i.test(response.raw)) violations.add('an injected header reached a response', example);
            const parsed = parseFirstResponse(response.raw);
            if (!parsed) {
              // Catches: the server crashing or hanging on a request (no response at all). A reset is
              // tolerated only for requests Node's parser must refuse anyway (oversized / malformed).
              if (clean || response.error === 'timeout') violations.add(`no response (${response.error ?? 'closed'})`, example);
              else counts.parserRejected++;
              return;
            }
            for (const [name] of parsed.headers) {
              // Catches: any response header the app does not set — e.g. one smuggled in through a trace ID.
              if (!ALLOWED_RESPONSE_HEADERS.has(name)) violations.add(`unexpected response header "${name}"`, example);
            }
            if (parsed.status !== 200) {
              const fromExpress = parsed.headers.some(([n]) => n === 'x-powered-by' || n === 'x-portkey-trace-id');
              // Catches: the middleware throwing (Express answers 500) or answering an error itself.
              if (parsed.status < 400 || parsed.status > 499 || fromExpress) violations.add(`status ${parsed.status} from the app`, example);
              // Catches: a well-formed request refused (e.g. the middleware mapping a hostile trace ID to a 4xx).
              else if (clean) violations.add(`clean request refused with ${parsed.status}`, example);
              else counts.parserRejected++;
              return;
            }
            counts.ok++;
            const body = JSON.parse(parsed.body) as { traceId: string; headers: Record<string, string>; raw: string[] };
            const traceHeaders = parsed.headers.filter(([n]) => n === 'x-portkey-trace-id');
            // Catches: the response header missing, duplicated, or not the context's trace ID.
            if (traceHeaders.length !== 1 || traceHeaders[0]![1] !== body.traceId) violations.add('x-portkey-trace-id response header differs from req.portkey.traceId', example);
            const expected = expectedTraceId(body.raw);
            if (expected.kind === 'incoming') {
              counts.incoming++;
              // Catches: the wrong source order, a valid ID rejected, or an ID altered on the way (trimmed, lower-cased).
              if (body.traceId !== expected.value) violations.add('trace ID is not the first valid incoming value', () => `got ${show(body.traceId)} for ${example()}`);
            } else {
              const incomingIds = body.raw.filter((_, j) => j % 2 === 1);
              const taken = (expected.kind === 'either' && body.traceId === expected.value) || incomingIds.includes(body.traceId) || incomingIds.some((v) => lenientTraceId(v) === body.traceId);
              if (expected.kind === 'fresh' || !taken) {
                counts.fresh++;
                // Catches: a generated ID of the wrong form, or an invalid / repeated incoming value taken.
                if (!GENERATED_TRACE_ID.test(body.traceId) || taken) {
                  const repeated = SOURCES.some((s) => body.raw.filter((v, j) => j % 2 === 0 && v.toLowerCase() === s).length > 1);
                  violations.add(
                    `trace ID ${taken ? `taken from an invalid${repeated ? ' or repeated' : ''} incoming header` : 'is not a fresh 32-hex ID'}`,
                    () => `got ${show(body.traceId)} for ${example()}`,
                  );
                }
              }
            }
            // Catches: two requests sharing a trace ID (a context leaking across concurrent requests, or a stuck generator).
            if (expected.kind !== 'incoming' && GENERATED_TRACE_ID.test(body.traceId)) {
              if (seenTraceIds.has(body.traceId) && !body.raw.some((v) => v.includes(body.traceId))) violations.add('a generated trace ID was given twice', example);
              seenTraceIds.add(body.traceId);
            }
            batchTraceIds.add(body.traceId);
            // Catches: client-sent x-portkey-* / authorization headers changing the gateway headers (key, config, metadata…).
            const want = expectedPortkeyHeaders(body.traceId);
            if (!sameRecord(lowerKeys(body.headers), want)) violations.add('req.portkey.headers() changed by the client', () => `got ${show(body.headers)} for ${example()}`);
          });
        }),
        { numRuns: 1000 },
      );
      // Catches: the server dying or wedging after hostile input (it must keep answering).
      const after = parseFirstResponse((await sendRaw(port, encodeRequest({ lines: [{ name: 'x-request-id', value: latin1('still-alive') }] }))).raw);
      expect(after?.status).toBe(200);
      expect(JSON.parse(after!.body).traceId).toBe('still-alive');
    } finally {
      await server.close();
      if (previousKey === undefined) delete process.env.PORTKEY_API_KEY;
      else process.env.PORTKEY_API_KEY = previousKey;
    }
    // The generators reach every branch: taken IDs, fresh IDs, parser rejections.
    expect(counts.requests).toBeGreaterThanOrEqual(1000);
    expect(counts.incoming).toBeGreaterThan(100);
    expect(counts.fresh).toBeGreaterThan(100);
    expect(counts.parserRejected).toBeGreaterThan(20);
    expect(violations.list()).toEqual([]);
  });

  it('traceparent is read as W3C Trace Context: only a valid header gives its trace-id (1,000 cases)', () => {
    // readTraceId is what the middleware uses; over the socket, the property above tolerates the
    // lenient cases this one reports.
    const violations = new Violations();
    fc.assert(
      fc.property(fc.oneof(traceparentValue, fc.string({ maxLength: 60 })), (value) => {
        const got = readTraceId({ traceparent: value });
        const want = w3cTraceId(value);
        // Catches: a traceparent the spec calls invalid (version ff, all-zero parent-id, upper-case hex,
        // data after a version-00 header — e.g. two headers joined by ", ") being taken as a trace ID.
        if (got !== want) violations.add(`traceparent ${want ? 'refused' : 'accepted'} (${want ? 'valid' : 'invalid'} per W3C)`, `${show(value)} → ${show(got)}`);
      }),
      { numRuns: 1000 },
    );
    expect(violations.list()).toEqual([]);
  });
});

// =============================================================================================
// 2. req.user shapes
// =============================================================================================

const boom = (): never => {
  throw new TypeError('hostile value');
};
const ALL_TRAPS_THROW: ProxyHandler<any> = {
  getPrototypeOf: boom,
  setPrototypeOf: boom,
  isExtensible: boom,
  preventExtensions: boom,
  getOwnPropertyDescriptor: boom,
  defineProperty: boom,
  has: boom,
  get: boom,
  set: boom,
  deleteProperty: boom,
  ownKeys: boom,
  apply: boom,
  construct: boom,
};

/** Hostile objects: traps, getters and iterators that throw, revoked proxies, cycles. */
/**
 * A hostile value, made only inside a property: fast-check inspects the values it generates (it
 * looks for a clone method), which a hostile value must not meet before the code under test does.
 */
class Hostile {
  constructor(readonly make: () => object) {}
}
/** The value itself: a {@link Hostile} is made now, anything else is returned as it is. */
function materialize(value: unknown): unknown {
  return value instanceof Hostile ? value.make() : value;
}

const HOSTILE_FACTORIES: (() => object)[] = [
  () => {
    const r = Proxy.revocable({}, {});
    r.revoke();
    return labelled('revoked Proxy', r.proxy);
  },
  () => {
    const r = Proxy.revocable([] as unknown[], {});
    r.revoke();
    return labelled('revoked Proxy of an array', r.proxy);
  },
  () => labelled('Proxy whose every trap throws', new Proxy({}, ALL_TRAPS_THROW)),
  () => labelled('Proxy of a function whose every trap throws', new Proxy(() => 'x', ALL_TRAPS_THROW)),
  () => labelled('Proxy of an array whose get/ownKeys traps throw', new Proxy(['x-a'], { get: boom, ownKeys: boom, getOwnPropertyDescriptor: boom })),
  () =>
    labelled('object whose getters throw', {
      get id(): string {
        return boom();
      },
      get sub(): string {
        return boom();
      },
      get organisationId(): string {
        return boom();
      },
      get a(): string {
        return boom();
      },
    }),
  () => labelled('object whose prototype has a throwing constructor getter', Object.create(Object.create(null, { constructor: { get: boom } }))),
  () => labelled('object with a throwing toJSON', { toJSON: boom, id: 'u' }),
  () => labelled('object with throwing toString / valueOf / Symbol.toPrimitive', { toString: boom, valueOf: boom, [Symbol.toPrimitive]: boom }),
  () =>
    labelled(
      'Set whose iterator throws',
      new (class HostileSet extends Set<string> {
        override [Symbol.iterator](): SetIterator<string> {
          return boom();
        }
      })(['x-a']),
    ),
  () => labelled('array with a throwing index getter', Object.defineProperty(['x-a'], 0, { get: boom, enumerable: true })),
  () => {
    const cyclic: Record<string, unknown> = { id: 'cyclic-user', name: 'c' };
    cyclic.self = cyclic;
    cyclic.organisation = cyclic;
    cyclic.tenant = { id: cyclic };
    return labelled('cyclic object', cyclic);
  },
  () => {
    const user: Record<string, unknown> = {};
    Object.defineProperty(user, 'id', { get: () => ({ id: boom }) , enumerable: true });
    return labelled('object whose id is an object with a function id', user);
  },
];
const hostileValue = fc.constantFrom(...HOSTILE_FACTORIES.map((make) => new Hostile(make)));

const CONTROL_CHAR_LIST = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).concat(['\u007f', '\u0085', '\u2028', '\u2029']);
/** Strings up to 1 MiB, mostly of control characters (built by repetition, so generation stays cheap). */
const hugeString = fc
  .tuple(fc.array(fc.constantFrom(...CONTROL_CHAR_LIST, 'a', '\u00e9', '\ud83d\ude00'), { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 1 << 20 }), fc.string({ maxLength: 20 }))
  .map(([pattern, length, tail]) => pattern.join('').repeat(Math.ceil(length / pattern.join('').length)).slice(0, length) + tail);

/** Every kind of value fast-check makes. */
const EVERY_KIND = {
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withSparseArray: true,
  withTypedArray: true,
  withUnicodeString: true,
} as const;

const anythingDeep = fc.anything({ ...EVERY_KIND, withObjectString: true });

const userArb = fc.oneof(
  { weight: 4, arbitrary: anythingDeep },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  { weight: 2, arbitrary: hugeString },
  { weight: 1, arbitrary: hugeString.map((id) => ({ id })) },
  { weight: 2, arbitrary: hostileValue },
  {
    weight: 2,
    arbitrary: fc.record(
      { id: fc.oneof(fc.string({ unit: 'binary' }), fc.integer(), fc.double(), fc.bigInt()), email: fc.string(), organisationId: fc.string({ unit: 'binary' }), tenant: fc.record({ id: fc.string() }) },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 10n ** 40n, Symbol('user'), () => 'fn-user') },
);

/** The `_user` the README promises for the simple shapes (a string user is the id; else `id`, `sub`, `_id`, …). */
function expectedUser(user: unknown): string | undefined | null {
  if (typeof user === 'string') return modelMetadataValue(user);
  if (typeof user === 'number') return modelMetadataValue(user);
  if (typeof user !== 'object' || user === null || labels.has(user) || Object.getPrototypeOf(user) !== Object.prototype) return null; // not modelled
  const id = (user as Record<string, unknown>).id;
  if (typeof id === 'string' || typeof id === 'number' || typeof id === 'bigint') return modelMetadataValue(id);
  return null;
}

describe('2. req.user shapes', () => {
  it('context.metadata and context.headers() never throw; x-portkey-metadata keeps its shape; a 1 MiB id costs bounded time', () => {
    const createContext = createRequestContextFactory();
    const violations = new Violations();
    let slowest = 0;
    let bigUsers = 0;
    fc.assert(
      fc.property(userArb, (generated) => {
        const user = materialize(generated);
        const example = () => show(user);
        const context = createContext({ headers: {}, user });
        try {
          // Catches: a user getter, Proxy trap or cycle escaping userMetadata (the request would fail).
          void context.metadata;
        } catch (error) {
          violations.add(`context.metadata threw ${errorKind(error)}`, example);
          return;
        }
        let headers: Record<string, string>;
        let best = Number.POSITIVE_INFINITY;
        const big =
          typeof user === 'string'
            ? user.length > 65_536
            : typeof user === 'object' && user !== null && !labels.has(user) && Object.getPrototypeOf(user) === Object.prototype && typeof (user as { id?: unknown }).id === 'string' && (user as { id: string }).id.length > 65_536;
        try {
          // Best of 3 for big users: a quadratic clean-up takes far longer than 20 ms every time; GC noise does not.
          for (let i = 0; i < (big ? 3 : 1); i++) {
            const start = performance.now();
            headers = context.headers();
            best = Math.min(best, performance.now() - start);
          }
        } catch (error) {
          // Catches: header building failing on what auth put on the request.
          violations.add(`context.headers() threw ${errorKind(error)}`, example);
          return;
        }
        if (big) {
          bigUsers++;
          slowest = Math.max(slowest, best);
          // Catches: work proportional to (or worse than) the user id's length — a 1 MiB id must not slow every call.
          if (best > 20) violations.add('a header build took over 20 ms', () => `${example()} (${best.toFixed(1)} ms)`);
        }
        const header = headers!['x-portkey-metadata'];
        for (const problem of metadataShapeProblems(header)) violations.add(problem, example);
        // Catches: a trace ID other than the request's, or a header built from something else.
        if (headers!['x-portkey-trace-id'] !== context.traceId) violations.add('x-portkey-trace-id is not the context trace ID', example);
        const want = expectedUser(user);
        if (want !== null) {
          const got = parseMetadataHeader(header)?._user;
          // Catches: the user id lost, altered, or not cleaned and cut as the metadata policy says.
          if (got !== want) violations.add(`_user is ${show(got)}, want ${show(want)}`, example);
        }
      }),
      { numRuns: 1000 },
    );
    // A 1 MiB id every time, on its own (the generator reaches that size only sometimes).
    for (const user of ['\u0000'.repeat(1 << 20), 'a'.repeat(1 << 20), { id: '\u0007x'.repeat(1 << 19) }, `${'\u2028'.repeat(1 << 20)}tail`]) {
      const context = createContext({ headers: {}, user });
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 3; i++) {
        const start = performance.now();
        const header = context.headers()['x-portkey-metadata'];
        best = Math.min(best, performance.now() - start);
        for (const problem of metadataShapeProblems(header)) violations.add(problem, show(user));
      }
      bigUsers++;
      slowest = Math.max(slowest, best);
      if (best > 20) violations.add('a header build took over 20 ms', `${show(user)} (${best.toFixed(1)} ms)`);
    }
    expect(bigUsers).toBeGreaterThan(4);
    expect(violations.list()).toEqual([]);
    expect(slowest).toBeLessThan(20);
  });
});

// =============================================================================================
// 3. Metadata values and keys → createPortkeyHeaders
// =============================================================================================

/** Values of every type, shallow: nested objects are dropped anyway, and deep ones cost generation time. */
const anythingShallow = fc.anything({ ...EVERY_KIND, maxDepth: 1, maxKeys: 3 });

const metadataValue = fc.oneof(
  { weight: 3, arbitrary: anythingShallow },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  { weight: 1, arbitrary: fc.date({ noInvalidDate: false }) },
  { weight: 1, arbitrary: fc.bigInt() },
  { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, Number.MAX_VALUE, 5e-324) },
  { weight: 1, arbitrary: fc.string({ minLength: 100, maxLength: 200 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 120, maxLength: 140 }) },
);
const metadataKey = fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.string({ minLength: 120, maxLength: 140 }), fc.constantFrom('_user', '_organisation', '_environment', '_prompt', '', '__proto__', 'constructor', 'toString'));
const userValue = fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 128 }), fc.string({ minLength: 1, maxLength: 128 }), fc.stringMatching(/^[a-z0-9_@.-]{1,128}$/));

/** A metadata object: a dictionary (sometimes large enough to pass the 4 KB budget), maybe with `_user`. */
const metadataArb = fc
  .tuple(
    fc.dictionary(metadataKey, metadataValue, { maxKeys: 30 }),
    // many long entries, to pass the 4 KB budget (built from one generated value: generating 60 long strings costs)
    fc.option(
      fc
        .tuple(fc.integer({ min: 20, max: 60 }), fc.oneof(fc.string({ unit: 'binary', minLength: 100, maxLength: 128 }), fc.string({ minLength: 100, maxLength: 128 })), fc.string({ maxLength: 8 }))
        .map(([count, value, prefix]) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`${prefix}${i}`, value.slice(i % 7) + value.slice(0, i % 7)]))),
      { freq: 3 },
    ),
    fc.option(userValue, { freq: 2 }),
    fc.boolean(),
  )
  .map(([dictionary, large, user, userFirst]) => {
    const metadata: Record<string, unknown> = {};
    if (user !== null && userFirst) metadata._user = user;
    Object.assign(metadata, large ?? {});
    for (const key of Object.keys(dictionary)) Object.defineProperty(metadata, key, { value: dictionary[key], enumerable: true, writable: true, configurable: true });
    if (user !== null && !userFirst) metadata._user = user;
    return metadata;
  });

describe('3. metadata values and keys → createPortkeyHeaders', () => {
  it('a plain object never throws; the header is the metadata policy applied (≤ 4096, strings ≤ 128, _user always kept)', () => {
    const violations = new Violations();
    let overBudget = 0;
    fc.assert(
      fc.property(metadataArb, fc.boolean(), (metadata, nullPrototype) => {
        const given = nullPrototype ? Object.assign(Object.create(null), metadata) : metadata;
        const example = () => show(given);
        let headers: Record<string, string>;
        try {
          headers = createPortkeyHeaders({ metadata: given });
        } catch (error) {
          // Catches: a value type (bigint, symbol, Date, NaN, typed array…) or key breaking header building.
          violations.add(`createPortkeyHeaders threw ${errorKind(error)}`, example);
          return;
        }
        const header = headers['x-portkey-metadata'];
        for (const problem of metadataShapeProblems(header)) violations.add(problem, example);
        const want = modelMetadataHeader(given);
        if (want && asciiJsonLength(want) > 3500) overBudget++;
        const got = parseMetadataHeader(header);
        // Catches: entries dropped that fit, values converted or cleaned differently from the policy, or the
        // budget applied in another order than "special keys first, then the others in order".
        if (!sameRecord(got, want)) {
          const missing = Object.keys(want ?? {}).filter((k) => got?.[k] !== want?.[k]);
          const extra = Object.keys(got ?? {}).filter((k) => !(want && k in want));
          violations.add('header differs from the metadata policy', () => `missing/different: ${missing.slice(0, 3).map(show).join(', ')}; extra: ${extra.slice(0, 3).map(show).join(', ')} for ${example()}`);
        }
        const user = (given as Record<string, unknown>)._user;
        if (typeof user === 'string' && user.length > 0 && user.length <= 128) {
          // Catches: `_user` lost to the 4 KB budget (README: "_user is never lost to the budget").
          if (got?._user !== modelMetadataValue(user)) violations.add('_user was dropped or altered', example);
        }
      }),
      { numRuns: 1000 },
    );
    expect(overBudget).toBeGreaterThan(50);
    expect(violations.list()).toEqual([]);
  });

  it('non-plain metadata (array, string, Map, number, Set, Date, class instance, function…) is refused with INVALID_OPTION', () => {
    const violations = new Violations();
    class Meta {
      _user = 'u';
    }
    const nonPlain = fc.oneof(
      fc.array(fc.string()),
      fc.string(),
      fc.double(),
      fc.integer(),
      fc.bigInt(),
      fc.boolean(),
      fc.dictionary(fc.string(), fc.string()).map((d) => new Map(Object.entries(d))),
      fc.array(fc.string()).map((a) => new Set(a)),
      fc.date(),
      fc.constant(null).map(() => new Meta()),
      fc.constantFrom(
        () => ({ _user: 'u' }),
        Symbol('m'),
        new String('_user'),
        /re/,
        new Error('e'),
        Buffer.from('x'),
        new Uint8Array(2),
        Promise.resolve({ _user: 'u' }),
        new WeakMap(),
      ),
      // the hostile values that are not plain objects (a plain one with throwing getters is valid metadata)
      hostileValue.filter((h) => {
        try {
          return !isPlainObject(h.make());
        } catch {
          return true;
        }
      }),
    );
    fc.assert(
      fc.property(nonPlain, (generated) => {
        const metadata = materialize(generated);
        try {
          createPortkeyHeaders({ metadata: metadata as never });
          // Catches: `metadata: 'app'` or a Map being accepted and silently sent as nothing (or as its indices).
          violations.add('non-plain metadata accepted', show(metadata));
        } catch (error) {
          // Catches: a raw TypeError (e.g. from a revoked Proxy) instead of the documented error.
          if (!(error instanceof PortkeyContextError) || error.code !== 'INVALID_OPTION') violations.add(`refused with ${errorKind(error)}`, show(metadata));
        }
      }),
      { numRuns: 1000 },
    );
    expect(violations.list()).toEqual([]);
  });
});

// =============================================================================================
// 4. Option types at every entry point
// =============================================================================================

type Code = 'INVALID_OPTION' | 'INVALID_HEADER_VALUE' | 'INVALID_TRACE_ID';
const OPTION_CODES: readonly string[] = ['INVALID_OPTION', 'INVALID_HEADER_VALUE', 'INVALID_TRACE_ID'];
/** Codes a request may fail with when a per-request function option misbehaves. */
const REQUEST_TIME_CODES: readonly string[] = [...OPTION_CODES, 'METADATA_RESOLVER_FAILED'];

/** Options whose string values must never appear in an error message (the brief's list). */
const SECRET_OPTIONS = new Set(['apiKey', 'virtualKey', 'authorization', 'config', 'awsAccessKeyId', 'awsSecretAccessKey', 'awsRegion', 'awsSessionToken', 'customHost', 'baseURL']);

/** Option → header, as in the README's table (lower-case, as fetch sends them). */
const HEADER_OF: Record<string, string> = {
  apiKey: 'x-portkey-api-key',
  virtualKey: 'x-portkey-virtual-key',
  config: 'x-portkey-config',
  provider: 'x-portkey-provider',
  authorization: 'authorization',
  customHost: 'x-portkey-custom-host',
  traceId: 'x-portkey-trace-id',
  metadata: 'x-portkey-metadata',
  cacheForceRefresh: 'x-portkey-cache-force-refresh',
  cacheNamespace: 'x-portkey-cache-namespace',
  forwardHeaders: 'x-portkey-forward-headers',
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
};
const REQUEST_OPTIONS = ['traceIdHeaders', 'trustIncoming', 'generateTraceId', 'metadata', 'responseHeader', 'abortOnDisconnect'] as const;

type EntryName = 'createPortkeyHeaders' | 'new ChatPortkey' | 'portkeyMiddleware' | 'PortkeyModule.forRoot' | 'runWithPortkeyContext' | 'withPortkeyOverrides' | 'invoke portkey';
const ENTRY_NAMES: EntryName[] = ['createPortkeyHeaders', 'new ChatPortkey', 'portkeyMiddleware', 'PortkeyModule.forRoot', 'runWithPortkeyContext', 'withPortkeyOverrides', 'invoke portkey'];
const isRequestEntry = (entry: EntryName) => entry === 'portkeyMiddleware' || entry === 'PortkeyModule.forRoot';

/** What the contract says an option value must do at an entry point. */
interface Verdict {
  /** true: must be accepted; false: must be refused; 'either': the docs allow both. */
  valid: boolean | 'either';
  /** Codes a refusal may carry. */
  codes: Code[];
}
const ACCEPT: Verdict = { valid: true, codes: [] };
const refuse = (...codes: Code[]): Verdict => ({ valid: false, codes });
const either = (...codes: Code[]): Verdict => ({ valid: 'either', codes });

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const WHITESPACE_OR_CONTROL = /[\s\u0000-\u001f\u007f]/;
const trimTrailingSlashes = (url: string) => url.replace(/\/+$/, '');
/** A base URL no reading can get wrong: http(s), a plain host, an optional port and plain path segments. */
const PLAIN_BASE_URL = /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,4})?(\/[A-Za-z0-9._~-]+)*\/*$/;

function baseURLVerdict(entry: EntryName, value: unknown): Verdict {
  if (value === undefined || value === null) return ACCEPT;
  // Catches: a non-string gateway URL accepted (README: values are always strings; INVALID_OPTION for a wrong type).
  if (typeof value !== 'string') return refuse('INVALID_OPTION');
  let parsed: URL | undefined;
  try {
    parsed = new URL(value);
  } catch {}
  const bad =
    !parsed ||
    !/^https?:$/.test(parsed.protocol) ||
    !/^https?:\/\//i.test(value) ||
    WHITESPACE_OR_CONTROL.test(value) ||
    parsed.username !== '' ||
    parsed.password !== '' ||
    parsed.search !== '' ||
    parsed.hash !== '';
  if (entry === 'createPortkeyHeaders') return either('INVALID_OPTION'); // not a header: the docs do not say it is checked there
  if (bad) return value === '' ? either('INVALID_OPTION') : refuse('INVALID_OPTION');
  return PLAIN_BASE_URL.test(value) && entry === 'new ChatPortkey' ? ACCEPT : either('INVALID_OPTION');
}

function stringVerdict(value: unknown): Verdict {
  if (value === undefined || value === null || value === '') return ACCEPT;
  if (typeof value !== 'string') return refuse('INVALID_OPTION');
  return SENDABLE.test(value) ? ACCEPT : refuse('INVALID_HEADER_VALUE');
}

function forwardHeadersVerdict(value: unknown): Verdict {
  if (value === undefined || value === null) return ACCEPT;
  if (!Array.isArray(value) && !(value instanceof Set)) return refuse('INVALID_OPTION');
  const codes = new Set<Code>();
  for (const name of Array.from(value as Iterable<unknown>)) {
    if (typeof name !== 'string') codes.add('INVALID_OPTION');
    else if (!SENDABLE.test(name)) codes.add('INVALID_HEADER_VALUE');
    else if (name.trim().includes(',')) codes.add('INVALID_OPTION');
  }
  return codes.size ? refuse(...codes) : ACCEPT;
}

function isAsyncFunction(value: unknown): boolean {
  return typeof value === 'function' && value.constructor?.name === 'AsyncFunction';
}

function startupTraceId(generate: () => unknown): boolean {
  try {
    const id = generate === globalThis.crypto.randomUUID ? globalThis.crypto.randomUUID() : generate();
    return typeof id === 'string' && TRACE_ID.test(id);
  } catch {
    return false;
  }
}

function verdict(entry: EntryName, option: string, value: unknown): Verdict {
  if (isRequestEntry(entry)) {
    switch (option) {
      case 'traceId':
        return ACCEPT; // not a request option ("all PortkeyOptions except traceId"): ignored
      case 'traceIdHeaders':
        if (value === undefined) return ACCEPT;
        if (value === null) return either('INVALID_OPTION');
        if (!Array.isArray(value)) return refuse('INVALID_OPTION');
        if (value.every((n) => typeof n === 'string' && /^[A-Za-z0-9-]+$/.test(n))) return ACCEPT;
        if (value.every((n) => typeof n === 'string' && /^[!#$%&'*+.^_`|~A-Za-z0-9-]+$/.test(n))) return either('INVALID_OPTION');
        return refuse('INVALID_OPTION');
      case 'trustIncoming':
      case 'abortOnDisconnect':
        if (value === undefined || typeof value === 'boolean') return ACCEPT;
        return value === null ? either('INVALID_OPTION') : refuse('INVALID_OPTION');
      case 'generateTraceId':
        if (value === undefined) return ACCEPT;
        // Called once at start-up: one that throws or returns no trace ID is refused there.
        if (typeof value === 'function') return startupTraceId(value as () => unknown) ? ACCEPT : refuse('INVALID_OPTION');
        return value === null ? either('INVALID_OPTION') : refuse('INVALID_OPTION');
      case 'responseHeader':
        if (value === undefined || value === false) return ACCEPT;
        if (typeof value === 'string' && /^[A-Za-z0-9-]+$/.test(value)) return ACCEPT;
        if (typeof value === 'string' && /^[!#$%&'*+.^_`|~A-Za-z0-9-]+$/.test(value)) return either('INVALID_OPTION');
        return value === null ? either('INVALID_OPTION') : refuse('INVALID_OPTION');
      case 'metadata':
        if (value === undefined || isPlainObject(value)) return ACCEPT;
        if (value === null) return either('INVALID_OPTION');
        if (typeof value === 'function') return isAsyncFunction(value) ? refuse('INVALID_OPTION') : ACCEPT;
        return refuse('INVALID_OPTION');
    }
  }
  // A model-level span ID would name every call's span the same: the model refuses it (a call's `portkey` option takes it).
  if (entry === 'new ChatPortkey' && option === 'spanId') return value === undefined || value === null ? ACCEPT : refuse('INVALID_OPTION');
  // A provider's key given as the Portkey key (a ChatOpenAI habit): the model refuses it, naming the option to use.
  if (entry === 'new ChatPortkey' && option === 'apiKey' && typeof value === 'string' && value.startsWith('sk-') && SENDABLE.test(value)) {
    return refuse('INVALID_OPTION');
  }
  switch (option) {
    case 'traceId':
      if (value === undefined || value === null) return ACCEPT;
      if (typeof value === 'string') return TRACE_ID.test(value) ? ACCEPT : refuse('INVALID_TRACE_ID');
      return refuse('INVALID_TRACE_ID', 'INVALID_OPTION');
    case 'metadata':
      return value === undefined || value === null || isPlainObject(value) ? ACCEPT : refuse('INVALID_OPTION');
    case 'config':
      if (value === undefined || value === null || value === '') return ACCEPT;
      if (typeof value === 'string') return SENDABLE.test(value) ? ACCEPT : refuse('INVALID_HEADER_VALUE');
      if (!isPlainObject(value)) return refuse('INVALID_OPTION');
      try {
        return JSON.stringify(value) === undefined ? refuse('INVALID_OPTION') : ACCEPT;
      } catch {
        return refuse('INVALID_OPTION');
      }
    case 'cacheForceRefresh':
      return value === undefined || value === null || typeof value === 'boolean' ? ACCEPT : refuse('INVALID_OPTION');
    case 'forwardHeaders':
      return forwardHeadersVerdict(value);
    case 'baseURL':
      return baseURLVerdict(entry, value);
    default:
      return stringVerdict(value);
  }
}

// --- values of every type ---------------------------------------------------------------------

const BAD_CHARS = ['\r', '\n', '\r\n', '\u0000', '\u0007', '\u007f', '\u0085', '\u00e9', '\u4e2d', '\ud83d\ude00', '\u2028', '\r\nx-injected: 1'];
const withBadChar = fc.tuple(fc.string({ maxLength: 30 }), fc.constantFrom(...BAD_CHARS), fc.string({ maxLength: 30 })).map(([a, b, c]) => a + b + c);
const secretLike = fc.tuple(fc.constantFrom('sk-', 'pk-', 'vk-', 'Bearer sk-', 'AKIA', ''), fc.stringMatching(/^[A-Za-z0-9]{8,90}$/)).map(([p, s]) => p + s);
const secretWithBadChar = fc.tuple(secretLike, fc.constantFrom(...BAD_CHARS), fc.boolean()).map(([s, bad, atEnd]) => (atEnd ? s + bad : bad + s));

class SomeClass {
  apiKey = 'from-a-class';
}
const METADATA_FUNCTIONS = [
  (_req: unknown, defaults: Record<string, unknown>) => ({ ...defaults, feature: 'from-fn' }),
  () => undefined,
  () => 'not-an-object',
  () => {
    throw new TypeError('resolver failed');
  },
  function namedResolver() {
    return { a: 1 };
  },
];
const TRACE_ID_FUNCTIONS = [() => 'generated-1', () => 'not valid', () => 42, () => 'a'.repeat(129), () => '123e4567-e89b-12d3-a456-426614174000', async () => 'async-id'];
const OTHER_FUNCTIONS = [
  async () => ({}),
  function* generator() {
    yield 1;
  },
  SomeClass,
  Math.max,
];

const ordinaryValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(undefined, null, '') },
  { weight: 2, arbitrary: fc.constantFrom(' ', '\t', 'false', 'true', 'app', 'x-a,x-b', 'abc', '0', 'null', 'undefined', 'Bearer sk-abcdef123456') },
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  withBadChar,
  secretLike,
  secretWithBadChar,
  fc.stringMatching(/^[A-Za-z0-9._:-]{1,140}$/),
  fc.constantFrom(
    'http://127.0.0.1:9/v1',
    'https://gateway.example/v1/',
    'http://127.0.0.1:9',
    'http://user:secret-pass-9876@127.0.0.1:9/v1',
    'http://127.0.0.1:9/v1?token=secret-query-9876',
    'http://127.0.0.1:9/v1#frag',
    'http://127.0.0.1:9/v1?',
    'http://127.0.0.1:9/v1#',
    'http://@127.0.0.1:9/v1',
    'ftp://127.0.0.1/v1',
    'javascript:alert(1)',
    '//127.0.0.1:9/v1',
    'http:127.0.0.1:9/v1',
    'http://127.0.0.1:99999/v1',
    'http://127.0.0.1:9/v1\r\nx-injected: 1',
    'HTTP://127.0.0.1:9/V1',
    'http://\u00fc.example/v1',
  ),
  fc.oneof(fc.double(), fc.integer(), fc.constantFrom(0, -0, Number.NaN, Number.POSITIVE_INFINITY, 1)),
  fc.bigInt(),
  fc.boolean(),
  fc.string({ maxLength: 10 }).map((d) => Symbol(d)),
  fc.constantFrom(...METADATA_FUNCTIONS, ...TRACE_ID_FUNCTIONS, ...OTHER_FUNCTIONS),
  fc.array(fc.oneof(fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/), fc.constantFrom('x-a', 'X-Request-Id', 'traceparent', ' x-b ', '')), { maxLength: 4 }),
  fc.array(fc.oneof(fc.string({ maxLength: 12 }), withBadChar, fc.constantFrom('x-a,x-b', 'x_a', 'x.a', 'a b')), { maxLength: 4 }),
  fc.array(fc.oneof(fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/), fc.constantFrom('x-a', ' x-b ', '')), { maxLength: 4 }).map((a) => new Set(a)),
  fc.array(anythingDeep, { maxLength: 3 }),
  fc.array(anythingDeep, { maxLength: 3 }).map((a) => new Set(a)),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }).map((d) => new Map(Object.entries(d))),
  fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.constant(null)), { maxKeys: 5 }),
  fc.object({ maxDepth: 2, maxKeys: 4 }),
  fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 4 }).map((d) => Object.assign(Object.create(null), d)),
  fc.record({ retry: fc.record({ attempts: fc.integer({ min: 0, max: 5 }) }), api_key: secretLike }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.bigInt(), { minKeys: 1, maxKeys: 2 }),
  fc.date({ noInvalidDate: false }),
  fc.constantFrom(/re/g, new Error('an error'), new String('abc'), new Number(1), new Boolean(false), Buffer.from('buf'), new Uint8Array(3), new WeakMap(), new SomeClass(), new URL('http://127.0.0.1:9/v1')),
);

const BOUNDARY_VALUES: unknown[] = [
  undefined,
  null,
  '',
  'false',
  'app',
  'x-a,x-b',
  'abc',
  true,
  0,
  {},
  ['x-a', 'x-b'],
  new Set(['x-a', ' x-b ']),
  'sk-live-secret-0123\r\nx-injected: 1',
];

const BASE_URL_BOUNDARY_VALUES: unknown[] = [
  'http://127.0.0.1:9/v1',
  'http://127.0.0.1:9/v1/',
  'http://127.0.0.1:9/v1#',
  'http://127.0.0.1:9/v1?',
  'http://user:pw-secret-123@127.0.0.1:9/v1',
  'http://127.0.0.1:9/v1?key=query-secret-123',
  'ftp://127.0.0.1:9/v1',
  'not a url',
  42,
];

/** 1–3 distinct options, each with a value. */
function optionsArb(names: readonly string[], values: fc.Arbitrary<unknown>): fc.Arbitrary<[string, unknown][]> {
  return fc.uniqueArray(fc.tuple(fc.constantFrom(...names), values), { minLength: 1, maxLength: 3, selector: ([name]) => name });
}

// --- running an entry point -------------------------------------------------------------------

interface Attempt {
  /** What construction / the call threw, if it did. */
  error?: unknown;
  /** Requests the model sent (per-call entry): none may be sent for a refused call. */
  sent?: Recorded[];
  /** The error an accepted call failed with (per-call entry: it cannot connect). */
  callError?: unknown;
  /** Checks of what an accepted value did: a list of problems. */
  effects?: () => Promise<Problem[]>;
}

class FakeRequest {
  constructor(readonly headers: Record<string, string>) {}
}
function fakeResponse() {
  const set: Record<string, string> = {};
  return {
    set,
    setHeader(name: string, value: unknown) {
      set[name.toLowerCase()] = String(value);
    },
    writableFinished: false,
    destroyed: false,
    once() {
      return this;
    },
  };
}

const FIXED_MODEL_URL = 'http://127.0.0.1:1/v1';

/** A problem found by an effect check: a category without values (for grouping), and the detail. */
interface Problem {
  category: string;
  detail: string;
}
const problem = (category: string, detail: string): Problem => ({ category, detail });

/** What each given option must have produced in `headers` (lower-case keys) — accepted values only. */
function headerProblems(pairs: [string, unknown][], headers: Record<string, string>, metadataBase: Record<string, unknown>, fetchNormalized: boolean, entry: EntryName): Problem[] {
  const problems: Problem[] = [];
  const norm = (v: string) => (fetchNormalized ? v.replace(/^[\t ]+|[\t ]+$/g, '') : v);
  const given = new Map(pairs);
  for (const [option, value] of pairs) {
    const header = HEADER_OF[option];
    if (!header) continue;
    const got = headers[header];
    if (isRequestEntry(entry) && option === 'traceId') {
      // Catches: a traceId given to a request-scoped factory overriding every request's own trace ID.
      if (value !== undefined && got === value) problems.push(problem('traceId option used as every request\'s trace ID', show(value)));
      continue;
    }
    if (isRequestEntry(entry) && option === 'metadata' && typeof value === 'function') continue; // checked by middlewareEffects
    // A model call always has its own span: an empty span option only leaves that layer out.
    const modelEntry = entry === 'new ChatPortkey' || entry === 'invoke portkey';
    if (modelEntry && ['spanId', 'spanName', 'parentSpanId'].includes(option) && (value === undefined || value === null || value === '')) continue;
    let want: string | undefined;
    if (option === 'metadata') {
      const merged = { ...metadataBase, ...(isPlainObject(value) ? value : {}) };
      const model = modelMetadataHeader(merged);
      // Catches: metadata merged, normalized or budgeted differently from the policy (or lost).
      if (!sameRecord(parseMetadataHeader(got), model)) problems.push(problem('metadata header is not the metadata policy applied', `${show(got)} for ${show(merged)}`));
      continue;
    }
    if (option === 'traceId') {
      if (value === undefined || value === null) continue;
      want = value as string;
    } else if (option === 'config' && isPlainObject(value)) {
      // Catches: a config object sent as "[object Object]", or not as its JSON.
      let same = false;
      try {
        same = got !== undefined && JSON.stringify(JSON.parse(got)) === JSON.stringify(JSON.parse(JSON.stringify(value)));
      } catch {}
      if (!same || !PRINTABLE_ASCII.test(got ?? '')) problems.push(problem('config object not sent as its JSON', show(got)));
      continue;
    } else if (option === 'cacheForceRefresh') {
      want = typeof value === 'boolean' ? String(value) : undefined;
    } else if (option === 'forwardHeaders') {
      // Catches: a Set sent as "[object Set]" or dropped; names not trimmed / not comma-joined.
      const names = value === undefined || value === null ? [] : Array.from(value as Iterable<string>).map((n) => n.trim()).filter(Boolean);
      want = names.length ? names.join(',') : undefined;
    } else {
      want = typeof value === 'string' && value !== '' ? value : undefined;
    }
    if (want !== undefined) want = norm(want);
    const ok = want === undefined ? got === undefined || (fetchNormalized && got === '') : got === want || (fetchNormalized && norm(got ?? '') === want);
    // Catches: an accepted value sent differently from how it was given (or not at all): a boolean sent as
    // a string, a value taken from another option, a Set flattened wrongly.
    if (!ok) problems.push(problem(`${option} not sent as given`, `${show(value)} sent as ${header}: ${show(got)}`));
  }
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('x-portkey-') && name !== 'authorization') continue;
    const option = Object.keys(HEADER_OF).find((o) => HEADER_OF[o] === name);
    const explained =
      (option !== undefined && given.has(option)) ||
      name === 'x-portkey-trace-id' ||
      (name === 'x-portkey-metadata' && (Object.keys(metadataBase).length > 0 || (isRequestEntry(entry) && typeof given.get('metadata') === 'function'))) ||
      ((entry === 'invoke portkey' || entry === 'new ChatPortkey') && ['x-portkey-span-id', 'x-portkey-span-name', 'x-portkey-parent-span-id'].includes(name));
    // Catches: a header nobody asked for (a leftover from an earlier call, an inherited property, the SDK's placeholder key).
    if (!explained) problems.push(problem(`unexpected header ${name}`, show(value)));
  }
  return problems;
}

/** Problems with where a ChatPortkey call went, for an accepted `baseURL`. */
function urlProblems(baseURL: unknown, sent: Recorded[], where: string): Problem[] {
  if (typeof baseURL !== 'string' || baseURL === '') return []; // '' is an empty value: left out
  const request = sent[0];
  if (!request) return [problem(`no request was sent (${where})`, show(baseURL))];
  const want = new URL(trimTrailingSlashes(baseURL));
  const got = new URL(request.url);
  const wantPath = `${want.pathname.replace(/\/+$/, '')}/chat/completions`;
  // Catches: an accepted gateway URL ignored (the call goes to another gateway) or misread (a trailing
  // "#" or "?" swallowing the path, so the call reaches the wrong endpoint).
  if (got.origin !== want.origin || got.pathname !== wantPath || got.hash !== '' || got.search !== '') {
    return [problem(`baseURL accepted as ${where} but the call went elsewhere`, `${show(baseURL)} → ${request.url}`)];
  }
  return [];
}

const parentContext = { traceId: 'parent-trace-1', metadata: { parent: 'p' } };

async function invokeInContext(sent: Recorded[]): Promise<unknown> {
  const model = new ChatPortkey({ baseURL: FIXED_MODEL_URL, maxRetries: 0, configuration: { fetch: recordingFetch(sent, 'canned') } });
  return model.invoke('x');
}

let closedModelURL = '';
let perCallModel: ChatPortkey;
const perCallSent: Recorded[] = [];

async function catching(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
    return undefined;
  } catch (error) {
    return error ?? new Error('undefined thrown');
  }
}

/** Runs one entry point with `opts`; never throws (whatever it throws is in `error`). */
async function attempt(entry: EntryName, pairs: [string, unknown][], inContext: boolean, hostile: boolean): Promise<Attempt> {
  const opts: Record<string, unknown> = {};
  for (const [k, v] of pairs) opts[k] = v;
  const get = (name: string) => (Object.hasOwn(opts, name) ? opts[name] : undefined);
  switch (entry) {
    case 'createPortkeyHeaders': {
      let headers: Record<string, string> = {};
      const error = await catching(() => {
        headers = createPortkeyHeaders(opts as never);
      });
      return { error, effects: async () => (hostile ? [] : headerProblems(pairs, lowerKeys(headers), {}, false, entry)) };
    }
    case 'new ChatPortkey': {
      const sent: Recorded[] = [];
      let model: ChatPortkey | undefined;
      const error = await catching(() => {
        model = new ChatPortkey({ baseURL: FIXED_MODEL_URL, ...opts, maxRetries: 0, configuration: { fetch: recordingFetch(sent, 'canned') } } as never);
      });
      return {
        error,
        effects: async () => {
          const callError = await catching(() => model!.invoke('x'));
          const baseURL = Object.hasOwn(opts, 'baseURL') ? (get('baseURL') ?? 'https://api.portkey.ai/v1') : FIXED_MODEL_URL;
          // Catches: a call sent to Portkey's hosted gateway without a Portkey API key (it would get a 401), or
          // that error for a call that has a key or goes elsewhere.
          const keyless = new URL(baseURL).hostname === 'api.portkey.ai' && !get('apiKey');
          const noKeyError = callError instanceof PortkeyContextError && callError.code === 'INVALID_OPTION' && /No Portkey API key/.test(callError.message);
          if (keyless) return noKeyError && sent.length === 0 ? [] : [problem('a keyless call to the hosted gateway was not refused before sending', '')];
          if (callError) return [problem(`accepted, then the call threw ${errorKind(callError)}`, '')];
          if (hostile) return [];
          return [...headerProblems(pairs, sent[0]?.headers ?? {}, {}, true, entry), ...urlProblems(baseURL, sent, 'a model option')];
        },
      };
    }
    case 'portkeyMiddleware':
    case 'PortkeyModule.forRoot': {
      let middleware: ReturnType<typeof portkeyMiddleware> | undefined;
      const error = await catching(() => {
        if (entry === 'PortkeyModule.forRoot') PortkeyModule.forRoot(opts as never);
        else middleware = portkeyMiddleware(opts as never);
      });
      if (entry === 'PortkeyModule.forRoot') return { error };
      return { error, effects: () => middlewareEffects(middleware!, pairs, get, hostile) };
    }
    case 'runWithPortkeyContext':
    case 'withPortkeyOverrides': {
      let inner: Problem[] = [];
      let innerError: unknown;
      const body = async () => {
        try {
          const headers = lowerKeys(portkeyHeaders());
          if (hostile) {
            // Catches: a value accepted when the context starts that then breaks every model call made in it.
            const callError = await catching(() => invokeInContext([]));
            if (callError && !(callError instanceof PortkeyContextError)) inner.push(problem(`accepted, then a model call in the context threw ${errorKind(callError)}`, ''));
            return;
          }
          const base = entry === 'withPortkeyOverrides' && inContext ? parentContext.metadata : {};
          inner = headerProblems(pairs, headers, base, false, entry);
          const baseURL = get('baseURL');
          if (baseURL !== undefined && baseURL !== null) {
            const sent: Recorded[] = [];
            const callError = await catching(() => invokeInContext(sent));
            if (callError) inner.push(problem(`accepted, then a model call in the context threw ${errorKind(callError)}`, ''));
            else inner.push(...urlProblems(baseURL, sent, `a ${entry} option`));
          }
        } catch (error) {
          innerError = error;
        }
      };
      const error = await catching(async () => {
        if (entry === 'runWithPortkeyContext') await runWithPortkeyContext({ options: opts as never }, body);
        else if (inContext) await runWithPortkeyContext(parentContext, () => withPortkeyOverrides(opts as never, body));
        else await withPortkeyOverrides(opts as never, body);
      });
      // Catches: options accepted when the context starts that then break every header build in it.
      const effects = async () => (innerError === undefined ? inner : [problem(`accepted, then portkeyHeaders() in it threw ${errorKind(innerError)}`, '')]);
      return { error, effects };
    }
    case 'invoke portkey': {
      perCallSent.length = 0;
      const call = () => perCallModel.invoke('x', { portkey: opts as never });
      const error = await catching(() => (inContext ? runWithPortkeyContext(parentContext, call) : call()));
      const sent = [...perCallSent];
      const connectionFailed = error instanceof Error && error.constructor.name === 'APIConnectionError';
      return {
        // A valid call reaches the network and fails to connect (nothing listens): that is acceptance.
        error: connectionFailed ? undefined : error,
        callError: connectionFailed ? error : undefined,
        sent,
        effects: async () => {
          if (hostile) return [];
          const base = inContext ? parentContext.metadata : {};
          const problems = headerProblems(pairs, sent[0]?.headers ?? {}, base, true, entry);
          const baseURL = get('baseURL');
          if (baseURL !== undefined && baseURL !== null) problems.push(...urlProblems(baseURL, sent, 'a per-call option'));
          return problems;
        },
      };
    }
  }
}

/** Runs a request through an accepted middleware and checks what each option did. */
async function middlewareEffects(middleware: ReturnType<typeof portkeyMiddleware>, pairs: [string, unknown][], get: (name: string) => unknown, hostile: boolean): Promise<Problem[]> {
  const problems: Problem[] = [];
  const traceIdHeaders = hostile ? undefined : get('traceIdHeaders');
  const names = (Array.isArray(traceIdHeaders) ? Array.from(traceIdHeaders as unknown[]) : ['x-portkey-trace-id', 'x-request-id', 'x-correlation-id', 'traceparent']).filter(
    (n): n is string => typeof n === 'string',
  );
  const incoming: Record<string, string> = Object.create(null);
  names.forEach((name, i) => {
    const key = name.toLowerCase();
    if (!Object.hasOwn(incoming, key)) incoming[key] = key === 'traceparent' ? `00-${String(i + 1).padStart(32, 'a')}-00f067aa0ba902b7-01` : `incoming-${i}`;
  });
  const first = names[0]?.toLowerCase();
  const request = new FakeRequest(incoming);
  const response = fakeResponse();
  let seen: { traceId: string; headers: Record<string, string>; signal: AbortSignal | undefined; sent: Recorded[]; callError?: unknown } | undefined;
  let headerError: unknown;
  let pending: Promise<void> | undefined;
  let requestError: unknown;
  try {
    middleware(request as never, response as never, () => {
      const context = tryGetPortkeyContext()!;
      try {
        seen = { traceId: context.traceId, headers: lowerKeys(portkeyHeaders()), signal: context.signal, sent: [] };
      } catch (error) {
        headerError = error;
        return;
      }
      const baseURL = get('baseURL');
      if (hostile || (baseURL !== undefined && baseURL !== null)) {
        const current = seen;
        pending = invokeInContext(current.sent).then(
          () => undefined,
          (error) => {
            current.callError = error;
          },
        );
      }
    });
  } catch (error) {
    requestError = error;
  }
  await pending;
  const generate = hostile ? undefined : get('generateTraceId');
  let generatorThrows = hostile; // a hostile function option may throw by itself
  
  let generated: unknown;
  if (typeof generate === 'function') {
    try {
      generated = (generate as () => unknown)();
    } catch {
      generatorThrows = true;
    }
  }
  for (const error of [requestError, headerError]) {
    if (error === undefined) continue;
    // Catches: a request failing with a raw error because of an accepted option (a user function that
    // itself throws may surface as it is).
    if (!(error instanceof PortkeyContextError && REQUEST_TIME_CODES.includes(error.code)) && !generatorThrows) {
      problems.push(problem(`a request failed with ${errorKind(error)}`, ''));
    }
    return problems;
  }
  if (seen && hostile && seen.callError && !(seen.callError instanceof PortkeyContextError)) {
    problems.push(problem(`accepted, then a model call in the request threw ${errorKind(seen.callError)}`, ''));
  }
  if (!seen || hostile) return problems;
  const metadataOption = get('metadata');
  const base = NODE_ENV ? { _environment: NODE_ENV } : {};
  if (metadataOption === METADATA_FUNCTIONS[0]) {
    // Catches: the resolver's result not used, or `defaults` not passed to it.
    const want = modelMetadataHeader({ ...base, feature: 'from-fn' });
    if (!sameRecord(parseMetadataHeader(seen.headers['x-portkey-metadata']), want)) problems.push(problem('metadata(req, defaults) result not sent', show(seen.headers['x-portkey-metadata'])));
  }
  problems.push(...headerProblems(pairs, seen.headers, typeof metadataOption === 'function' ? {} : base, false, 'portkeyMiddleware'));
  // The trace ID: incoming per traceIdHeaders / trustIncoming, else generateTraceId's, else a generated one.
  const trust = get('trustIncoming') !== false;
  const fromIncoming = trust && first !== undefined ? (first === 'traceparent' ? incoming[first]!.slice(3, 35) : incoming[first]) : undefined;
  if (fromIncoming !== undefined) {
    // Catches: trustIncoming: false ignored, or traceIdHeaders read in another order / not at all.
    if (seen.traceId !== fromIncoming) problems.push(problem('trace ID is not the first configured incoming header', `${show(seen.traceId)}, want ${show(fromIncoming)}`));
  } else if (typeof generate === 'function') {
    // Catches: generateTraceId ignored (or an invalid result used as the trace ID).
    if (typeof generated === 'string' && TRACE_ID.test(generated) && seen.traceId !== generated) problems.push(problem('generateTraceId not used', `${show(seen.traceId)}, want ${show(generated)}`));
  } else if (!GENERATED_TRACE_ID.test(seen.traceId) || Object.values(incoming).includes(seen.traceId)) {
    // Catches: an incoming trace ID used although trustIncoming is false (or no source is configured).
    problems.push(problem('trace ID is not a generated one', show(seen.traceId)));
  }
  const responseHeader = get('responseHeader');
  const wantName = responseHeader === undefined ? 'x-portkey-trace-id' : typeof responseHeader === 'string' ? responseHeader.toLowerCase() : undefined;
  const setNames = Object.keys(response.set);
  // Catches: responseHeader: false still sending the trace ID, or a custom name ignored.
  if (wantName === undefined ? setNames.length > 0 : setNames.length !== 1 || response.set[wantName] !== seen.traceId) {
    problems.push(problem('trace ID response header not as configured', `${show(response.set)} for responseHeader ${show(responseHeader)}`));
  }
  // Catches: abortOnDisconnect: false still aborting calls, or the default giving no signal.
  if ((get('abortOnDisconnect') === false) !== (seen.signal === undefined)) problems.push(problem('signal does not follow abortOnDisconnect', show(get('abortOnDisconnect'))));
  if (seen.callError) problems.push(problem(`accepted, then a model call in the request threw ${errorKind(seen.callError)}`, ''));
  else problems.push(...urlProblems(get('baseURL'), seen.sent, 'a middleware option'));
  return problems;
}

/** What the library itself writes into errors: the model gateway URLs and the type names of `describeType`. */
const LIBRARY_TEXT = [
  FIXED_MODEL_URL,
  'https://api.portkey.ai/v1',
  'undefined',
  'a string',
  'a number',
  'a boolean',
  'a bigint',
  'a symbol',
  'a function',
  'an object',
  'an array',
];

/** Checks one attempt against the contract; adds what is wrong to `violations`. */
async function judge(entry: EntryName, pairs: [string, unknown][], inContext: boolean, violations: Violations, counts: Record<string, number>, hostile: boolean): Promise<void> {
  const result = await attempt(entry, pairs, inContext, hostile);
  const example = () => `${entry}${inContext && (entry === 'withPortkeyOverrides' || entry === 'invoke portkey') ? ' (in a context)' : ''} ${showOptions(pairs)}`;
  const options = pairs.map(([o]) => o).join('+');
  const { error } = result;
  for (const thrown of [error, result.callError]) {
    if (thrown === undefined) continue;
    // Catches: a secret (or 12 characters of it) echoed in an error message or stack — a refusal, or the
    // connection error of an accepted call.
    const text = errorText(thrown);
    // Text an error may show without echoing anything: other options' values, the gateway URL, type names.
    const shareable = [...pairs.filter(([o, v]) => !SECRET_OPTIONS.has(o) && typeof v === 'string').map(([, v]) => v as string), ...LIBRARY_TEXT, closedModelURL];
    for (const [option, value] of pairs) {
      if (SECRET_OPTIONS.has(option) && typeof value === 'string' && value.length >= 8 && showsSecret(text, value, shareable)) {
        violations.add(`${entry}: the value of secret option ${option} appears in the error (${errorKind(thrown)})`, example);
      }
    }
  }
  // Catches: a raw TypeError / RangeError / SyntaxError (or any other error) instead of the documented PortkeyContextError codes.
  if (error !== undefined && !(error instanceof PortkeyContextError && OPTION_CODES.includes(error.code))) {
    if (hostile) {
      const raw = error instanceof Error ? `raw ${error.constructor?.name ?? 'Error'}` : errorKind(error);
      violations.add(`${entry}: ${pairs.map(([, v]) => labels.get(v as object) ?? describeValueClass(v)).join(' + ')} → ${raw}`, () => `${example()}: ${errorKind(error)}`, options);
    } else violations.add(`${entry}: ${options.includes('+') ? 'options' : options} refused with ${errorKind(error)}`, example);
    return;
  }
  // Catches: a call sent to the network although its options were refused (validation after the request).
  if (error !== undefined && result.sent && result.sent.length > 0) violations.add(`${entry}: a refused call was still sent`, example);
  if (hostile) {
    counts[error ? 'refused' : 'accepted'] = (counts[error ? 'refused' : 'accepted'] ?? 0) + 1;
    if (!error && result.effects) {
      // Catches: a hostile value accepted at construction that then breaks calls with a raw error.
      for (const p of await result.effects()) {
        if (p.category.includes('threw') || p.category.includes('failed with')) {
          violations.add(`${entry}: ${pairs.map(([, v]) => labels.get(v as object) ?? describeValueClass(v)).join(' + ')}: ${p.category}`, example);
        }
      }
    }
    return;
  }
  const verdicts = pairs.map(([option, value]) => ({ option, value, verdict: verdict(entry, option, value) }));
  const mustRefuse = verdicts.filter((v) => v.verdict.valid === false);
  const mayRefuse = verdicts.filter((v) => v.verdict.valid !== true);
  if (error === undefined) {
    counts.accepted = (counts.accepted ?? 0) + 1;
    for (const v of mustRefuse) {
      // Catches: a wrong type or unsendable value accepted — silently misread (`trustIncoming: 'false'`,
      // `cacheForceRefresh: 'false'`, `metadata: 'app'`, `forwardHeaders: 'x-a,x-b'`, `generateTraceId: 'abc'`…).
      violations.add(`${entry}: ${v.option} accepted although invalid (want ${v.verdict.codes.join(' or ')})`, example, describeValueClass(v.value));
    }
    if (mustRefuse.length === 0 && result.effects) {
      for (const p of await result.effects()) violations.add(`${entry}: ${p.category}`, () => `${example()} → ${p.detail}`);
    }
    return;
  }
  counts.refused = (counts.refused ?? 0) + 1;
  const code = (error as PortkeyContextError).code as Code;
  // Catches: a valid value refused (an over-strict check breaks real configurations).
  if (mayRefuse.length === 0) violations.add(`${entry}: valid ${options} refused with ${code}`, () => `${example()}: ${(error as Error).message.slice(0, 200)}`);
  // Catches: the wrong code (e.g. INVALID_OPTION for a value with CR/LF, which the README files under INVALID_HEADER_VALUE).
  else if (!mayRefuse.some((v) => v.verdict.codes.includes(code))) {
    violations.add(`${entry}: ${mayRefuse.map((v) => v.option).join('+')} refused with ${code}, want ${[...new Set(mayRefuse.flatMap((v) => v.verdict.codes))].join(' or ')}`, example);
  }
}

function describeValueClass(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') {
    if (value === '') return "''";
    if (!SENDABLE.test(value)) return 'a string with CR/LF/NUL/control/non-ASCII';
    return 'a string';
  }
  if (typeof value === 'function') return isAsyncFunction(value) ? 'an async function' : 'a function';
  if (typeof value !== 'object') return `a ${typeof value}`;
  if (Array.isArray(value)) return 'an array';
  const name = Object.getPrototypeOf(value)?.constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : isPlainObject(value) ? 'a plain object' : 'an object';
}

describe('4. option types at every entry point', () => {
  beforeAll(async () => {
    closedModelURL = `http://127.0.0.1:${await closedPort()}/v1`;
    perCallModel = new ChatPortkey({ baseURL: closedModelURL, maxRetries: 0, configuration: { fetch: recordingFetch(perCallSent, 'network') } });
  });

  const portkeyOptionNames = [...PORTKEY_OPTION_KEYS] as string[];

  it.each(ENTRY_NAMES)('%s: values of every type are accepted as documented or refused with the documented code, never echoing a secret', async (entry) => {
    const names = isRequestEntry(entry) ? [...portkeyOptionNames, ...REQUEST_OPTIONS] : portkeyOptionNames;
    const violations = new Violations();
    const counts: Record<string, number> = {};
    // Every option with each boundary value, so the brief's examples are always met (`trustIncoming: 'false'`,
    // `cacheForceRefresh: 'false'`, `metadata: 'app'`, `forwardHeaders: 'x-a,x-b'`, `generateTraceId: 'abc'`, a Set
    // of forwardHeaders, null / '' / undefined), then 1,000 generated combinations.
    const contexts = entry === 'withPortkeyOverrides' || entry === 'invoke portkey' ? [false, true] : [false];
    for (const name of names) {
      const values = name === 'baseURL' ? [...BOUNDARY_VALUES, ...BASE_URL_BOUNDARY_VALUES] : BOUNDARY_VALUES;
      for (const value of values) for (const inContext of contexts) await judge(entry, [[name, value]], inContext, violations, counts, false);
    }
    await fc.assert(
      fc.asyncProperty(optionsArb(names, ordinaryValue), fc.boolean(), async (pairs, inContext) => {
        await judge(entry, pairs, inContext, violations, counts, false);
      }),
      { numRuns: 1000 },
    );
    // Both outcomes are reached, so neither oracle is vacuous.
    expect(counts.accepted).toBeGreaterThan(50);
    expect(counts.refused).toBeGreaterThan(50);
    expect(violations.list()).toEqual([]);
  });

  it.each(ENTRY_NAMES)('%s: hostile objects (revoked / throwing Proxies, throwing getters and iterators, cycles) never raise a raw error', async (entry) => {
    const names = isRequestEntry(entry) ? [...portkeyOptionNames, ...REQUEST_OPTIONS] : portkeyOptionNames;
    const violations = new Violations();
    const counts: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(
        // one option at a time, so each violation names the hostile value that caused it
        fc.tuple(fc.constantFrom(...names), hostileValue).map((pair) => [pair]),
        fc.boolean(),
        async (generated, inContext) => {
          const pairs = generated.map(([option, value]): [string, unknown] => [option, materialize(value)]);
          await judge(entry, pairs, inContext, violations, counts, true);
        },
      ),
      { numRuns: 1000 },
    );
    expect(violations.list()).toEqual([]);
  });

  it('the options argument itself: anything but an object is refused with INVALID_OPTION, never ignored', async () => {
    const violations = new Violations();
    const notAnObject = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom('apiKey=pk-secret-123', 'x-a,x-b'),
      fc.double(),
      fc.bigInt(),
      fc.boolean(),
      fc.string({ maxLength: 5 }).map((d) => Symbol(d)),
      fc.constantFrom(() => ({}), Math.max),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.constant(null).map(() => new Map([['apiKey', 'pk-in-a-map-123']])),
      fc.constant(null).map(() => new Set(['apiKey'])),
      fc.date(),
      fc.constantFrom(null, undefined),
    );
    const entries: [string, (arg: unknown) => unknown][] = [
      ['createPortkeyHeaders', (arg) => createPortkeyHeaders(arg as never)],
      ['new ChatPortkey', (arg) => new ChatPortkey(arg as never)],
      ['portkeyMiddleware', (arg) => portkeyMiddleware(arg as never)],
      ['PortkeyModule.forRoot', (arg) => PortkeyModule.forRoot(arg as never)],
      ['runWithPortkeyContext init', (arg) => runWithPortkeyContext(arg as never, () => portkeyHeaders())],
      ['runWithPortkeyContext options', (arg) => runWithPortkeyContext({ options: arg as never }, () => portkeyHeaders())],
      ['withPortkeyOverrides', (arg) => withPortkeyOverrides(arg as never, () => portkeyHeaders())],
      ['withPortkeyOverrides (in a context)', (arg) => runWithPortkeyContext({}, () => withPortkeyOverrides(arg as never, () => portkeyHeaders()))],
      ['portkeyHeaders', (arg) => portkeyHeaders(arg as never)],
      ['invoke portkey', (arg) => perCallModel.invoke('x', { portkey: arg as never })],
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...entries), notAnObject, async ([name, run], arg) => {
        let error: unknown;
        try {
          await run(arg);
        } catch (e) {
          error = e;
        }
        if (error instanceof Error && error.constructor.name === 'APIConnectionError') error = undefined;
        const kind = arg === undefined ? 'undefined' : describeValueClass(arg);
        // null / undefined may mean "no options"; anything else must be refused.
        if (error === undefined && (arg === null || arg === undefined)) return;
        // Catches: options of the wrong type silently ignored (`portkey: 'abc'`, a Map of options) — every
        // option in them is then lost without a word.
        if (error === undefined) violations.add(`${name}: options of a non-object type accepted and ignored`, '', kind);
        // Catches: a raw TypeError (e.g. Object.hasOwn(null)) instead of the documented error.
        else if (!(error instanceof PortkeyContextError && error.code === 'INVALID_OPTION')) violations.add(`${name}: ${kind} as the options refused with ${errorKind(error)}`, () => `${name}(${show(arg)})`);
      }),
      { numRuns: 1000 },
    );
    expect(violations.list()).toEqual([]);
  });
});

// =============================================================================================
// 5. Per-call trace IDs
// =============================================================================================

describe('5. per-call trace IDs', () => {
  const traceIdCandidate = fc.oneof(
    { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/) },
    { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9._:-]{127,130}$/) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 2, arbitrary: fc.tuple(fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/), fc.constantFrom(...BAD_CHARS, ' ', '/', ',', '+', '=', '"', '\t')).map(([a, b]) => a + b) },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', '\t', 'a b', 'trace\r\nx-injected: 1', '\u0000') },
  );
  const sent: Recorded[] = [];
  const model = new ChatPortkey({ baseURL: FIXED_MODEL_URL, maxRetries: 0, configuration: { fetch: recordingFetch(sent, 'canned') } });
  const ways: [string, (traceId: string) => Promise<string | undefined>][] = [
    ['withPortkeyOverrides', async (traceId) => withPortkeyOverrides({ traceId }, () => portkeyHeaders()['x-portkey-trace-id'])],
    ['withPortkeyOverrides (in a context)', async (traceId) => runWithPortkeyContext({ traceId: 'outer-1' }, () => withPortkeyOverrides({ traceId }, () => portkeyHeaders()['x-portkey-trace-id']))],
    ['runWithPortkeyContext', async (traceId) => runWithPortkeyContext({ traceId }, () => portkeyHeaders()['x-portkey-trace-id'])],
    [
      'invoke portkey.traceId',
      async (traceId) => {
        sent.length = 0;
        await model.invoke('x', { portkey: { traceId } });
        return sent[0]?.headers['x-portkey-trace-id'];
      },
    ],
    [
      'invoke portkey.traceId (in a context)',
      async (traceId) => {
        sent.length = 0;
        await runWithPortkeyContext({ traceId: 'outer-2' }, () => model.invoke('x', { portkey: { traceId } }));
        return sent[0]?.headers['x-portkey-trace-id'];
      },
    ],
  ];

  it.each(ways)('%s: accepted iff [A-Za-z0-9._:-]{1,128}, else INVALID_TRACE_ID', async (_name, run) => {
    const violations = new Violations();
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(traceIdCandidate, async (traceId) => {
        const valid = TRACE_ID.test(traceId);
        sent.length = 0;
        try {
          const got = await run(traceId);
          accepted++;
          // Catches: an invalid trace ID (CR/LF, spaces, 129+ characters, '') accepted and sent.
          if (!valid) violations.add('invalid trace ID accepted', show(traceId));
          // Catches: a valid trace ID accepted but not the one sent (the outer context's, or altered).
          else if (got !== traceId) violations.add('accepted trace ID not sent as given', `${show(traceId)} → ${show(got)}`);
        } catch (error) {
          // Catches: a valid trace ID refused, or the wrong error (a raw TypeError, INVALID_HEADER_VALUE) for an invalid one.
          if (valid) violations.add(`valid trace ID refused with ${errorKind(error)}`, show(traceId));
          else if (!(error instanceof PortkeyContextError && error.code === 'INVALID_TRACE_ID')) violations.add(`invalid trace ID refused with ${errorKind(error)}`, show(traceId));
          // Catches: a model call sent before its per-call options were checked.
          if (sent.length > 0) violations.add('a refused call was still sent', show(traceId));
        }
      }),
      { numRuns: 1000 },
    );
    expect(accepted).toBeGreaterThan(100);
    expect(violations.list()).toEqual([]);
  });
});

// =============================================================================================
// 6. Prototype pollution
// =============================================================================================

describe('6. prototype pollution', () => {
  it('a polluted Object.prototype never becomes a header (createPortkeyHeaders, portkeyHeaders, the middleware, ChatPortkey)', async () => {
    const polluted: Record<string, string> = {
      customHost: 'http://polluted-host.example/v1',
      authorization: 'Bearer polluted-authorization',
      apiKey: 'pk-polluted-api-key',
      traceId: 'polluted-trace-id',
      provider: 'polluted-provider',
      config: 'pc-polluted-config',
      // a header name as a key: whatever copies keys into headers with for…in would send it
      'x-portkey-config': 'pc-polluted-header-config',
    };
    const values = Object.values(polluted);
    const leaks = (where: string, headers: Record<string, string | null | undefined>): string[] =>
      Object.entries(headers)
        .filter(([, v]) => typeof v === 'string' && values.some((p) => v.includes(p)))
        .map(([k, v]) => `${where}: ${k}: ${v}`);
    const found: string[] = [];
    const app = express();
    app.use(portkeyMiddleware());
    app.get('/', (req, res) => res.json({ traceId: req.portkey.traceId, headers: req.portkey.headers() }));
    const server = await serveOnLoopback(app);
    const sent: Recorded[] = [];
    const model = new ChatPortkey({ baseURL: FIXED_MODEL_URL, maxRetries: 0, configuration: { fetch: recordingFetch(sent, 'canned') } });
    // One call before the prototype is polluted: the `openai` client is made on the first call, and the
    // SDK's own constructor reads `provider` from its options (a polluted `provider` breaks the SDK, not
    // this library). The model then keeps that client, so the call below exercises portkey-context only.
    await model.invoke('warm-up');
    sent.length = 0;
    try {
      // Plain assignment, as a real pollution (`merge(target, JSON.parse('{"__proto__": …}'))`) does: enumerable.
      for (const [key, value] of Object.entries(polluted)) (Object.prototype as Record<string, unknown>)[key] = value;
      // Catches: options read with `in` / plain property access instead of own properties.
      found.push(...leaks('createPortkeyHeaders({})', createPortkeyHeaders({})));
      found.push(...leaks('portkeyHeaders() in runWithPortkeyContext({})', runWithPortkeyContext({}, () => portkeyHeaders())));
      found.push(...leaks('portkeyHeaders() in withPortkeyOverrides({})', withPortkeyOverrides({}, () => portkeyHeaders())));
      // Catches: the middleware (or its options) picking inherited fields; the trace ID must be the request's.
      const response = await fetch(`${server.url}/`, { headers: { 'x-request-id': 'request-trace-1' } });
      const body = (await response.json()) as { traceId: string; headers: Record<string, string> };
      found.push(...leaks('req.portkey.headers()', body.headers));
      found.push(...leaks('response', Object.fromEntries(response.headers)));
      if (body.traceId !== 'request-trace-1') found.push(`middleware trace ID: ${body.traceId}`);
      // Catches: ChatPortkey reading a polluted prototype when it builds a call's headers.
      const callError = await catching(() => runWithPortkeyContext({ traceId: 'job-trace-1' }, () => model.invoke('x')));
      if (callError) found.push(`ChatPortkey call threw ${errorKind(callError)}`);
      for (const request of sent) {
        found.push(...leaks('ChatPortkey request', request.headers));
        if (request.url.includes('polluted')) found.push(`ChatPortkey request URL ${request.url}`);
      }
      if (sent[0] && sent[0].headers['x-portkey-trace-id'] !== 'job-trace-1') found.push(`ChatPortkey trace ID ${sent[0].headers['x-portkey-trace-id']}`);
      // Catches: the constructor taking inherited Portkey options (its serialized fields show what it kept).
      const fresh = new ChatPortkey({ baseURL: FIXED_MODEL_URL, maxRetries: 0 });
      const serialized = JSON.stringify(fresh);
      if (values.some((v) => serialized.includes(v)) || fresh.baseURL !== FIXED_MODEL_URL) found.push(`new ChatPortkey kept a polluted field: ${serialized.slice(0, 300)}`);
    } finally {
      for (const key of Object.keys(polluted)) delete (Object.prototype as Record<string, unknown>)[key];
      await server.close();
    }
    expect(Object.keys(polluted).filter((key) => key in {})).toEqual([]);
    expect(found).toEqual([]);
    expect(sent.length).toBe(1);
  });
});
