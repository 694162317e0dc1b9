import { describe, expect, it } from 'vitest';
import { createTraceIdReader, isValidTraceId, parseTraceparent, readTraceId } from 'portkey-context';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('trace IDs', () => {
  it('reads the sources in order, skipping invalid ones', () => {
    expect(readTraceId({ 'x-request-id': 'req-1', 'x-correlation-id': 'corr-1' })).toBe('req-1');
    expect(readTraceId({ 'x-portkey-trace-id': 'bad value!', 'x-correlation-id': 'corr-1' })).toBe('corr-1');
    expect(readTraceId({ 'x-request-id': 'a'.repeat(129) })).toBeUndefined();
    expect(readTraceId({ 'x-request-id': 'ok:1.2_3-4' })).toBe('ok:1.2_3-4');
  });

  it('parses W3C traceparent', () => {
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect(parseTraceparent(tp)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(readTraceId({ traceparent: tp })).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(parseTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01')).toBeUndefined();
    expect(parseTraceparent('garbage')).toBeUndefined();
  });

  it('generates a UUID when nothing usable arrives, or when incoming IDs are not trusted', () => {
    expect(createTraceIdReader()({ 'x-request-id': 'evil\r\nx: y' })).toMatch(UUID);
    expect(createTraceIdReader({ trustIncoming: false })({ 'x-request-id': 'req-1' })).toMatch(UUID);
    expect(createTraceIdReader({ traceIdHeaders: ['X-Trace'] })({ 'x-trace': 't-1', 'x-request-id': 'r' })).toBe('t-1');
  });

  it('checks a custom generator', () => {
    expect(createTraceIdReader({ generateTraceId: () => 'gen-1' })({})).toBe('gen-1');
    expect(() => createTraceIdReader({ generateTraceId: () => 'bad id' })({})).toThrow(/generateTraceId returned/);
    expect(isValidTraceId('a b')).toBe(false);
  });
});
