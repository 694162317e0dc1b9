import { describe, expect, it } from 'vitest';
import { DEFAULT_TRACE_ID_HEADERS, generateTraceId, isValidTraceId, parseTraceparent, readTraceId } from 'portkey-context';
import { createTraceIdReader } from '../../src/trace-id.js';
import { createRequestContextFactory } from '../../src/request-context.js';

/** A generated trace ID: 128 random bits as 32 hex characters (the W3C trace-id form). */
const GENERATED = /^[0-9a-f]{32}$/;

describe('trace IDs', () => {
  it('reads the sources in order, skipping invalid ones', () => {
    expect(readTraceId({ 'x-request-id': 'req-1', 'x-correlation-id': 'corr-1' })).toBe('req-1');
    expect(readTraceId({ 'x-portkey-trace-id': 'bad value!', 'x-correlation-id': 'corr-1' })).toBe('corr-1');
    expect(readTraceId({ 'x-request-id': 'a'.repeat(129) })).toBeUndefined();
    expect(readTraceId({ 'x-request-id': 'ok:1.2_3-4' })).toBe('ok:1.2_3-4');
    expect(readTraceId({ 'x-request-id': 'req-1', 'x-portkey-trace-id': 'pk-1' })).toBe('pk-1');
    expect(readTraceId({ 'x-request-id': ['a', 'b'] as unknown as string, 'x-correlation-id': 'corr-1' })).toBe('corr-1');
  });

  it('reads a custom source list the same way (order, validity, traceparent)', () => {
    const sources = ['x-b3-traceid', 'traceparent', 'x-request-id'];
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect(readTraceId({ 'x-request-id': 'r', traceparent: tp }, sources)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(readTraceId({ 'x-request-id': 'r', traceparent: 'junk', 'x-b3-traceid': 'bad id' }, sources)).toBe('r');
    expect(readTraceId({ 'x-portkey-trace-id': 'pk-1' }, sources)).toBeUndefined();
    const read = createTraceIdReader({ traceIdHeaders: sources });
    expect(read({ 'x-portkey-trace-id': 'pk-1' })).toMatch(GENERATED);
    expect(read({ 'x-b3-traceid': 'b3-1', 'x-request-id': 'r' })).toBe('b3-1');
  });

  it('reads the default sources exactly as the generic loop would', () => {
    expect(Object.isFrozen(DEFAULT_TRACE_ID_HEADERS)).toBe(true);
    const loopOrder = [...DEFAULT_TRACE_ID_HEADERS, 'x-not-sent']; // not the default list: the generic loop
    const values = [undefined, 'ok-1', 'bad id', 'x'.repeat(129), '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'];
    for (const a of values)
      for (const b of values)
        for (const c of values)
          for (const d of values) {
            const headers = { 'x-portkey-trace-id': a, 'x-request-id': b, 'x-correlation-id': c, traceparent: d };
            expect(readTraceId(headers)).toBe(readTraceId(headers, loopOrder));
          }
  });

  it('generates distinct random IDs, also across refills of its random pool', () => {
    const ids = Array.from({ length: 2000 }, generateTraceId);
    for (const id of ids) expect(id).toMatch(GENERATED);
    expect(new Set(ids).size).toBe(ids.length);
    // 64 000 hex digits of a uniform source: each digit's share is close to 1/16.
    const zeros = ids.join('').split('0').length - 1;
    expect(zeros / 64_000).toBeGreaterThan(1 / 16 - 0.01);
    expect(zeros / 64_000).toBeLessThan(1 / 16 + 0.01);
  });

  it('parses W3C traceparent', () => {
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect(parseTraceparent(tp)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(readTraceId({ traceparent: tp })).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(parseTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01')).toBeUndefined();
    expect(parseTraceparent('garbage')).toBeUndefined();
  });

  it('generates an ID when nothing usable arrives, or when incoming IDs are not trusted', () => {
    expect(createTraceIdReader()({ 'x-request-id': 'evil\r\nx: y' })).toMatch(GENERATED);
    expect(createTraceIdReader({ trustIncoming: false })({ 'x-request-id': 'req-1' })).toMatch(GENERATED);
    expect(createTraceIdReader({ traceIdHeaders: ['X-Trace'] })({ 'x-trace': 't-1', 'x-request-id': 'r' })).toBe('t-1');
  });

  it('checks a custom generator', () => {
    expect(createTraceIdReader({ generateTraceId: () => 'gen-1' })({})).toBe('gen-1');
    expect(() => createTraceIdReader({ generateTraceId: () => 'bad id' })({})).toThrow(/generateTraceId returned/);
    expect(isValidTraceId('a b')).toBe(false);
  });
});

describe('traceIdFrom: trace-ID sources in order', () => {
  const request = (headers: Record<string, string>) => ({ headers });
  const traceIdOf = (options: Parameters<typeof createRequestContextFactory>[0], headers: Record<string, string> = {}) =>
    createRequestContextFactory(options)(request(headers)).traceId;

  it('tries each source in order: a function first, or the headers first', () => {
    const fromOtel = () => 'otel-1';
    expect(traceIdOf({ traceIdFrom: [fromOtel, 'headers'] }, { 'x-request-id': 'hdr-1' })).toBe('otel-1');
    expect(traceIdOf({ traceIdFrom: ['headers', fromOtel] }, { 'x-request-id': 'hdr-1' })).toBe('hdr-1');
    expect(traceIdOf({ traceIdFrom: ['headers', fromOtel] })).toBe('otel-1');
    expect(traceIdOf({ traceIdFrom: ['headers', fromOtel], trustIncoming: false }, { 'x-request-id': 'hdr-1' })).toBe('otel-1');
  });

  it('skips a source that throws or returns no valid trace ID, then generates', () => {
    const throwing = () => {
      throw new Error('no tracer');
    };
    const invalid = () => 'not a trace id!';
    expect(traceIdOf({ traceIdFrom: [throwing, invalid, 'headers'] }, { 'x-request-id': 'hdr-2' })).toBe('hdr-2');
    expect(traceIdOf({ traceIdFrom: [throwing, invalid] })).toMatch(GENERATED);
    expect(traceIdOf({ traceIdFrom: [invalid], generateTraceId: () => 'gen-2' })).toBe('gen-2');
  });

  it('refuses a malformed list at start-up', () => {
    for (const bad of [[], 'headers', ['header'], [42]]) {
      expect(() => createRequestContextFactory({ traceIdFrom: bad as never })).toThrow(/"traceIdFrom" must be a non-empty array/);
    }
  });
});
