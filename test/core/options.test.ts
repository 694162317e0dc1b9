/**
 * Options are checked where they are given, read from own properties only, and cost bounded work.
 */
import { describe, expect, it } from 'vitest';
import {
  createPortkeyHeaders,
  PortkeyContextError,
  portkeyHeaders,
  resolvePortkeyOptions,
  runWithPortkeyContext,
  withPortkeyOverrides,
} from 'portkey-context';
import { createRequestContextFactory } from '../../src/request-context.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PortkeyContextError);
    return { code: (error as PortkeyContextError).code, message: (error as Error).message };
  }
  return undefined;
};

describe('option checks', () => {
  it('misreadable values are refused with INVALID_OPTION naming the option and the type expected', () => {
    expect(code(() => createPortkeyHeaders({ cacheForceRefresh: 'false' as never }))).toEqual({
      code: 'INVALID_OPTION',
      message: 'Portkey option "cacheForceRefresh" must be a boolean, got a string.',
    });
    expect(code(() => createPortkeyHeaders({ forwardHeaders: 'x-a,x-b' as never }))?.message).toMatch(/"forwardHeaders" must be an array of header names/);
    expect(code(() => createPortkeyHeaders({ metadata: 'app' as never }))?.message).toMatch(/"metadata" must be an object/);
    expect(code(() => createPortkeyHeaders({ config: 10n as never }))?.message).toMatch(/"config" must be a config slug \(string\) or a config object, got a bigint/);
    expect(code(() => createPortkeyHeaders({ config: { big: 10n } }))?.message).toMatch(/JSON-serializable/);
    expect(code(() => createRequestContextFactory({ trustIncoming: 'false' as never }))?.message).toMatch(/"trustIncoming" must be a boolean/);
    expect(code(() => createRequestContextFactory({ traceIdHeaders: 'x-request-id' as never }))?.message).toMatch(/"traceIdHeaders" must be an array/);
    expect(code(() => createRequestContextFactory({ generateTraceId: 'abc' as never }))?.message).toMatch(/"generateTraceId" must be a function/);
    expect(code(() => createRequestContextFactory({ abortOnDisconnect: 0 as never }))?.code).toBe('INVALID_OPTION');
    expect(code(() => resolvePortkeyOptions({ baseURL: 123 as never }))?.message).toMatch(/"baseURL" must be a string/);
  });

  it('a Set of forwardHeaders is sent, comma-separated', () => {
    expect(createPortkeyHeaders({ forwardHeaders: new Set(['x-a', 'x-b']) as never })['x-portkey-forward-headers']).toBe('x-a,x-b');
  });

  it('an async metadata resolver is refused at start-up; one returning a Promise fails the call clearly', () => {
    expect(code(() => createRequestContextFactory({ metadata: (async () => ({})) as never }))?.message).toMatch(/must be a synchronous function/);
    const create = createRequestContextFactory({ metadata: () => Promise.resolve({}) as never });
    const context = create({ headers: {} });
    expect(code(() => context.headers())).toMatchObject({ code: 'METADATA_RESOLVER_FAILED' });
  });

  it('baseURL with credentials or a query is refused without echoing it; 100 KB of slashes is trimmed at once', () => {
    const refused = code(() => resolvePortkeyOptions({ baseURL: 'https://user:s3cret-pass@gw.example/v1' }));
    expect(refused?.code).toBe('INVALID_OPTION');
    expect(refused?.message).not.toContain('s3cret-pass');
    expect(code(() => resolvePortkeyOptions({ baseURL: 'https://gw.example/v1?key=s3cret-key' }))?.message).not.toContain('s3cret-key');
    const started = performance.now();
    expect(resolvePortkeyOptions({ baseURL: `http://gw.example/v1${'/'.repeat(100_000)}` }).baseURL).toBe('http://gw.example/v1');
    expect(code(() => resolvePortkeyOptions({ baseURL: `${'/'.repeat(100_000)}x` }))?.code).toBe('INVALID_OPTION');
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('the trace-ID rule holds for every explicit source, empty included', () => {
    for (const bad of ['', 'has space', 'x'.repeat(129), 'new\nline']) {
      expect(code(() => runWithPortkeyContext({ traceId: bad }, () => 1))?.code).toBe('INVALID_TRACE_ID');
      expect(code(() => runWithPortkeyContext({ traceId: 'ok' }, () => withPortkeyOverrides({ traceId: bad }, () => 1)))?.code).toBe('INVALID_TRACE_ID');
      expect(code(() => runWithPortkeyContext({ traceId: 'ok' }, () => portkeyHeaders({ traceId: bad })))?.code).toBe('INVALID_TRACE_ID');
    }
    expect(runWithPortkeyContext({ traceId: 'a.b:c-d_1' }, () => portkeyHeaders()['x-portkey-trace-id'])).toBe('a.b:c-d_1');
  });
});

describe('user metadata from auth', () => {
  const create = createRequestContextFactory();

  it('never fails a request: throwing getters, revoked proxies, a throwing req.user', () => {
    const throwing = { get id(): string { throw new Error('boom'); }, organisationId: 'acme' };
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const request = { headers: {}, get user(): unknown { throw new Error('no user'); } };
    expect(create({ headers: {}, user: throwing }).metadata).toMatchObject({ _organisation: 'acme' });
    expect(create({ headers: {}, user: proxy }).headers()).toBeDefined();
    expect(JSON.parse(create(request).headers()['x-portkey-metadata'] ?? '{}')._user).toBeUndefined();
  });

  it('a 1 MiB user id of control characters costs bounded time (cut before it is cleaned)', () => {
    const context = create({ headers: {}, user: { id: '\u0001'.repeat(1 << 20) } });
    const started = performance.now();
    for (let i = 0; i < 10; i++) context.headers();
    expect((performance.now() - started) / 10).toBeLessThan(5);
  });
});
