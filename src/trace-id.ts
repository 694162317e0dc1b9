import { randomFillSync } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { describeType, invalidOption, PortkeyContextError } from './errors.js';
import { ownOption } from './own.js';
import { requestHeaders } from './request-headers.js';

/** Longest trace ID accepted from outside. */
export const TRACE_ID_MAX_LENGTH = 128;

const SAFE_TRACE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** What the trace-ID request and response header options accept as a header name. */
const HEADER_NAME = /^[A-Za-z0-9-]+$/;
/**
 * W3C Trace Context `traceparent`: lower-case hex only; version 00 has exactly four fields; a later
 * version may append `-…` fields (no comma: Node joins a repeated header with ", ", and a repeated
 * header is refused); version ff is invalid.
 */
const TRACEPARENT = /^([\da-f]{2})-([\da-f]{32})-([\da-f]{16})-[\da-f]{2}(-[^,]*)?$/;

/** Where trace IDs are read from, in order: the first valid one wins. */
export const DEFAULT_TRACE_ID_HEADERS: readonly string[] = Object.freeze(['x-portkey-trace-id', 'x-request-id', 'x-correlation-id', 'traceparent']);

/** Trace-ID options shared by the Express middleware and the NestJS module. */
export interface TraceIdOptions {
  /**
   * Request headers to take a trace ID from, in order (lower-case names). `traceparent` is read
   * as W3C Trace Context: its 32-hex trace-id.
   * @default ['x-portkey-trace-id', 'x-request-id', 'x-correlation-id', 'traceparent']
   */
  traceIdHeaders?: readonly string[];
  /** Set to `false` to ignore incoming trace IDs and always generate one. @default true */
  trustIncoming?: boolean;
  /** Makes a trace ID when none is usable. Must return `[A-Za-z0-9._:-]{1,128}`. @default {@link generateTraceId} */
  generateTraceId?: () => string;
  /**
   * Where a request's trace ID comes from, in order; the first valid one wins, else
   * `generateTraceId`. `'headers'` is the trace-ID headers (under `trustIncoming`); a function of
   * the request is any other source — `otelTraceId` from `portkey-context/otel` takes the active
   * OpenTelemetry span's trace ID. A function that throws or returns no valid trace ID is skipped.
   * @default ['headers']
   */
  traceIdFrom?: readonly ('headers' | TraceIdSource)[];
}

/** A source of trace IDs other than the request headers: the request in, a trace ID (or nothing) out. */
export type TraceIdSource = (request: { headers: IncomingHttpHeaders }) => string | undefined;

/**
 * Whether a trace ID is safe to accept from outside: 1–128 characters of `[A-Za-z0-9._:-]`.
 */
export function isValidTraceId(value: unknown): value is string {
  return typeof value === 'string' && SAFE_TRACE_ID.test(value);
}

/**
 * The trace-id of a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`), or `undefined`.
 * Invalid per the spec, and so `undefined`: upper-case hex, version `ff`, an all-zero trace-id or
 * parent-id, extra fields after a version-00 header, a repeated header.
 */
export function parseTraceparent(value: string): string | undefined {
  const match = TRACEPARENT.exec(value.trim());
  if (!match) return undefined;
  const [, version, traceId, parentId, rest] = match;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId!) || /^0+$/.test(parentId!)) return undefined;
  return traceId;
}

const TRACE_ID_BYTES = 16;
const randomPool = Buffer.allocUnsafeSlow(TRACE_ID_BYTES * 256);
let randomPoolOffset = randomPool.length;
const HEX_CHAR_CODES = Array.from('0123456789abcdef', (char) => char.charCodeAt(0));
const traceIdCharCodes: number[] = new Array(TRACE_ID_BYTES * 2).fill(0);

/**
 * A new random trace ID: 128 bits from `crypto.randomFillSync` as 32 lower-case hex characters,
 * the W3C trace-id format (the form a `traceparent` trace-id arrives in, too).
 *
 * It runs on every request without an incoming trace ID, so it is built for that: random bytes are
 * drawn 4 KiB at a time and each ID is one `String.fromCharCode` call, no native call per ID. In
 * `bench/`, `crypto.randomUUID()` and `buffer.toString('hex')` per ID each cost ~1.5% of a
 * hello-world's throughput more than this.
 */
export function generateTraceId(): string {
  const at = takeRandomBytes();
  for (let i = 0; i < TRACE_ID_BYTES; i++) {
    const byte = randomPool[at + i]!;
    traceIdCharCodes[2 * i] = HEX_CHAR_CODES[byte >> 4]!;
    traceIdCharCodes[2 * i + 1] = HEX_CHAR_CODES[byte & 15]!;
  }
  return String.fromCharCode(...traceIdCharCodes);
}

/** Where 16 unused random bytes start in the pool (refilled 4 KiB at a time, when used up). */
function takeRandomBytes(): number {
  if (randomPoolOffset === randomPool.length) {
    randomFillSync(randomPool);
    randomPoolOffset = 0;
  }
  const at = randomPoolOffset;
  randomPoolOffset += TRACE_ID_BYTES;
  return at;
}

/** A span ID's characters, dashes in place: `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`. */
const spanIdCharCodes: number[] = new Array(36).fill(45);

/**
 * A new random span ID in the UUID v4 form (the form of LangChain's run IDs, which are span IDs
 * when a callback run exists), drawn from the same pool as {@link generateTraceId}, one
 * `String.fromCharCode` per ID (it runs on every gateway call).
 */
export function generateSpanId(): string {
  const from = takeRandomBytes();
  let at = 0;
  for (let i = 0; i < TRACE_ID_BYTES; i++) {
    if (at === 8 || at === 13 || at === 18 || at === 23) at++; // a dash
    const byte = randomPool[from + i]!;
    spanIdCharCodes[at++] = HEX_CHAR_CODES[byte >> 4]!;
    spanIdCharCodes[at++] = HEX_CHAR_CODES[byte & 15]!;
  }
  spanIdCharCodes[14] = 52; // '4': version 4
  // The variant, 8, 9, a or b, from the nibble written there (the high one of byte 8).
  spanIdCharCodes[19] = HEX_CHAR_CODES[8 | ((randomPool[from + 8]! >> 4) & 3)]!;
  return String.fromCharCode(...spanIdCharCodes);
}

function acceptTraceId(value: unknown): string | undefined {
  return typeof value === 'string' && SAFE_TRACE_ID.test(value) ? value : undefined;
}

function readSource(headers: IncomingHttpHeaders, name: string): string | undefined {
  const raw = headers[name];
  if (typeof raw !== 'string') return undefined;
  return name === 'traceparent' ? parseTraceparent(raw) : acceptTraceId(raw);
}

/**
 * The default sources, read with fixed property names: looking up a varying name in a loop cost
 * ~1.5% of a hello-world's throughput in `bench/`; these lookups cost nothing measurable.
 */
function readDefaultSources(headers: IncomingHttpHeaders): string | undefined {
  const traceparent = headers.traceparent;
  return (
    acceptTraceId(headers['x-portkey-trace-id']) ??
    acceptTraceId(headers['x-request-id']) ??
    acceptTraceId(headers['x-correlation-id']) ??
    (typeof traceparent === 'string' ? parseTraceparent(traceparent) : undefined)
  );
}

function isDefaultSourceList(sources: readonly string[]): boolean {
  return sources.length === DEFAULT_TRACE_ID_HEADERS.length && sources.every((name, i) => name === DEFAULT_TRACE_ID_HEADERS[i]);
}

/**
 * Reads the first valid trace ID from request headers, in the order of `sources`.
 * Invalid values (wrong characters, too long, repeated headers) are skipped, never thrown on.
 */
export function readTraceId(headers: IncomingHttpHeaders, sources: readonly string[] = DEFAULT_TRACE_ID_HEADERS): string | undefined {
  return isDefaultSourceList(sources) ? readDefaultSources(headers) : readSources(headers, sources);
}

/** Any source list, in order: the first valid trace ID. */
function readSources(headers: IncomingHttpHeaders, sources: readonly string[]): string | undefined {
  for (let i = 0; i < sources.length; i++) {
    const id = readSource(headers, sources[i]!);
    if (id !== undefined) return id;
  }
  return undefined;
}

/** What a generator returned that is not a trace ID (its length or type, never the value). */
function notATraceId(id: unknown, when: string): string {
  const what = typeof id === 'string' ? `${id.length} characters that are not a trace ID` : describeType(id);
  return `generateTraceId returned ${what}${when}; it must return 1-128 characters of [A-Za-z0-9._:-].`;
}

/**
 * A `generateTraceId` option, called once at start-up so a broken one fails there and not on every
 * request. The Web Crypto `crypto.randomUUID` (which throws `ERR_INVALID_THIS` when called on its
 * own) is called on `crypto`.
 */
function startupChecked(generate: () => string): () => string {
  const webCrypto = globalThis.crypto;
  const call = generate === webCrypto?.randomUUID ? () => webCrypto.randomUUID() : generate;
  let id: unknown;
  try {
    id = call();
  } catch (cause) {
    throw new PortkeyContextError(
      'INVALID_OPTION',
      `generateTraceId threw when called at start-up (${cause instanceof Error ? cause.message : describeType(cause)}): it is called on its own, with no arguments; pass a function such as () => myIds.next().`,
      { cause },
    );
  }
  if (!isValidTraceId(id)) {
    throw new PortkeyContextError('INVALID_OPTION', notATraceId(id, ' when called at start-up'));
  }
  return call;
}

/**
 * Builds the function that picks a request's trace ID: incoming (when trusted and valid) or generated.
 *
 * @throws {@link PortkeyContextError} `INVALID_OPTION` for a malformed `traceIdHeaders` list.
 */
export function createTraceIdReader(options: TraceIdOptions = {}): (headers: IncomingHttpHeaders) => string {
  const { sources, make } = compileTraceIdOptions(options);
  if (sources === undefined) return make;
  if (isDefaultSourceList(sources)) return (headers) => readDefaultSources(headers) ?? make();
  return (headers) => readSources(headers, sources) ?? make();
}

/**
 * The trace-ID options, checked once: the header names to read (`undefined` when incoming IDs are
 * not trusted or none are listed) and the generator, called once here (see {@link startupChecked}).
 */
function compileTraceIdOptions(options: TraceIdOptions): { sources: string[] | undefined; make: () => string } {
  const own = (key: keyof TraceIdOptions) => ownOption(options, key);
  const given = own('traceIdHeaders') ?? DEFAULT_TRACE_ID_HEADERS;
  let list: unknown[];
  try {
    if (!Array.isArray(given)) throw undefined;
    list = [...given];
  } catch {
    throw invalidOption('traceIdHeaders', 'an array of header names', given);
  }
  const sources = list.map((name: unknown) => {
    if (typeof name !== 'string' || !HEADER_NAME.test(name)) {
      throw new PortkeyContextError('INVALID_OPTION', `traceIdHeaders must be header names (letters, digits, -), got ${describeType(name)} that is not one.`);
    }
    return name.toLowerCase();
  });
  const trustIncoming = own('trustIncoming');
  if (trustIncoming !== undefined && typeof trustIncoming !== 'boolean') throw invalidOption('trustIncoming', 'a boolean', trustIncoming);
  const generate = own('generateTraceId') as TraceIdOptions['generateTraceId'];
  if (generate !== undefined && typeof generate !== 'function') throw invalidOption('generateTraceId', 'a function returning a trace ID', generate);
  const call = generate === undefined ? undefined : startupChecked(generate);
  const make = call
    ? () => {
        const id = call();
        if (!isValidTraceId(id)) {
          throw new PortkeyContextError('INVALID_TRACE_ID', notATraceId(id, ''));
        }
        return id;
      }
    : generateTraceId;
  return { sources: trustIncoming === false || sources.length === 0 ? undefined : sources, make };
}

/**
 * Builds the function that picks a request's trace ID when `traceIdFrom` orders several sources
 * (`undefined` when it is absent or just `['headers']`: then {@link createTraceIdReader} is all).
 *
 * @throws {@link PortkeyContextError} `INVALID_OPTION` for a malformed `traceIdFrom` (or another trace-ID option).
 */
export function createOrderedTraceIdReader(options: TraceIdOptions = {}): ((request: { headers: IncomingHttpHeaders }) => string) | undefined {
  const given = ownOption(options, 'traceIdFrom');
  if (given === undefined) return undefined;
  if (!Array.isArray(given) || given.length === 0 || !given.every((s) => s === 'headers' || typeof s === 'function')) {
    throw invalidOption('traceIdFrom', "a non-empty array of 'headers' and functions (request) => trace ID", given);
  }
  if (given.length === 1 && given[0] === 'headers') return undefined;
  // The sources are tried in order, then the generator.
  const { sources, make } = compileTraceIdOptions(options);
  const steps = (given as ('headers' | TraceIdSource)[]).map((source) =>
    source === 'headers'
      ? (request: { headers: IncomingHttpHeaders }) => (sources === undefined ? undefined : readTraceId(requestHeaders(request), sources))
      : (request: { headers: IncomingHttpHeaders }) => {
          try {
            const id = source(request);
            return isValidTraceId(id) ? id : undefined;
          } catch {
            return undefined; // a source that fails costs its turn, never the request
          }
        },
  );
  return (request) => {
    for (const step of steps) {
      const id = step(request);
      if (id !== undefined) return id;
    }
    return make();
  };
}

/**
 * The response header that returns the trace ID: `'x-portkey-trace-id'` by default, `false` for none.
 *
 * @throws {@link PortkeyContextError} `INVALID_OPTION` for something that is not a header name.
 */
export function traceIdResponseHeader(option: string | false | undefined): string | false {
  const header = option === undefined ? 'x-portkey-trace-id' : option;
  if (header !== false && (typeof header !== 'string' || !HEADER_NAME.test(header))) {
    throw new PortkeyContextError('INVALID_OPTION', `responseHeader must be a header name or false, got ${describeType(header)} that is not one.`);
  }
  return header;
}
