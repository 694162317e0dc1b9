import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { PortkeyContextError } from './errors.js';

/** Longest trace ID accepted from outside. */
export const TRACE_ID_MAX_LENGTH = 128;

const SAFE_TRACE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}/;

/** Where trace IDs are read from, in order: the first valid one wins. */
export const DEFAULT_TRACE_ID_HEADERS: readonly string[] = ['x-portkey-trace-id', 'x-request-id', 'x-correlation-id', 'traceparent'];

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
  /** Makes a trace ID when none is usable. Must return `[A-Za-z0-9._:-]{1,128}`. @default crypto.randomUUID */
  generateTraceId?: () => string;
}

/**
 * Whether a trace ID is safe to accept from outside: 1–128 characters of `[A-Za-z0-9._:-]`.
 */
export function isValidTraceId(value: unknown): value is string {
  return typeof value === 'string' && SAFE_TRACE_ID.test(value);
}

/**
 * The trace-id of a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`), or `undefined`.
 * The all-zero trace-id is invalid per the spec and gives `undefined`.
 */
export function parseTraceparent(value: string): string | undefined {
  const match = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!match || /^0+$/.test(match[1]!)) return undefined;
  return match[1];
}

/**
 * Reads the first valid trace ID from request headers, in the order of `sources`.
 * Invalid values (wrong characters, too long, repeated headers) are skipped, never thrown on.
 */
export function readTraceId(headers: IncomingHttpHeaders, sources: readonly string[] = DEFAULT_TRACE_ID_HEADERS): string | undefined {
  for (let i = 0; i < sources.length; i++) {
    const name = sources[i]!;
    const raw = headers[name];
    if (typeof raw !== 'string') continue;
    const candidate = name === 'traceparent' ? parseTraceparent(raw) : raw;
    if (candidate !== undefined && SAFE_TRACE_ID.test(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Builds the function that picks a request's trace ID: incoming (when trusted and valid) or generated.
 *
 * @throws {@link PortkeyContextError} `INVALID_OPTION` for a malformed `traceIdHeaders` list.
 */
export function createTraceIdReader(options: TraceIdOptions = {}): (headers: IncomingHttpHeaders) => string {
  const sources = (options.traceIdHeaders ?? DEFAULT_TRACE_ID_HEADERS).map((name) => {
    if (typeof name !== 'string' || !/^[A-Za-z0-9-]+$/.test(name)) {
      throw new PortkeyContextError('INVALID_OPTION', `traceIdHeaders must be header names, got ${JSON.stringify(name)}.`);
    }
    return name.toLowerCase();
  });
  const generate = options.generateTraceId;
  const make = generate
    ? () => {
        const id = generate();
        if (!isValidTraceId(id)) {
          throw new PortkeyContextError(
            'INVALID_TRACE_ID',
            `generateTraceId returned ${JSON.stringify(String(id).slice(0, 60))}; it must return 1-128 characters of [A-Za-z0-9._:-].`,
          );
        }
        return id;
      }
    : () => randomUUID();
  if (options.trustIncoming === false || sources.length === 0) return make;
  return (headers) => readTraceId(headers, sources) ?? make();
}
