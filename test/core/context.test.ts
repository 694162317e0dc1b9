import { afterEach, describe, expect, it } from 'vitest';
import {
  getPortkeyContext,
  PortkeyContextError,
  portkeyHeaders,
  runWithPortkeyContext,
  tryGetPortkeyContext,
  withPortkeyOverrides,
} from 'portkey-context';

afterEach(() => {
  delete process.env.PORTKEY_API_KEY;
});

describe('request-scoped context', () => {
  it('throws a NO_CONTEXT error that says what to mount', () => {
    expect(tryGetPortkeyContext()).toBeUndefined();
    try {
      getPortkeyContext();
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PortkeyContextError);
      expect((err as PortkeyContextError).code).toBe('NO_CONTEXT');
      expect((err as Error).message).toMatch(/portkeyMiddleware\(\)/);
      expect((err as Error).message).toMatch(/PortkeyModule\.forRoot\(\)/);
    }
  });

  it('keeps concurrent contexts apart across awaits', async () => {
    const seen = await Promise.all(
      ['a', 'b', 'c'].map((id, i) =>
        runWithPortkeyContext({ traceId: `t-${id}` }, async () => {
          await new Promise((r) => setTimeout(r, 30 - i * 10));
          return portkeyHeaders()['x-portkey-trace-id'];
        }),
      ),
    );
    expect(seen).toEqual(['t-a', 't-b', 't-c']);
  });

  it('layers static < context < overrides, merging metadata', () => {
    process.env.PORTKEY_API_KEY = 'pk-env';
    const headers = runWithPortkeyContext(
      { traceId: 'req-1', metadata: { _user: 'u1', plan: 'free' }, options: { virtualKey: 'vk-app', metadata: { app: 'shop', plan: 'x' } } },
      () =>
        withPortkeyOverrides({ virtualKey: 'vk-scope', metadata: { feature: 'summary' } }, () =>
          portkeyHeaders({ metadata: { plan: 'pro' }, cacheNamespace: 'call' }),
        ),
    );
    expect(headers).toEqual({
      'x-portkey-api-key': 'pk-env',
      'x-portkey-virtual-key': 'vk-scope',
      'x-portkey-trace-id': 'req-1',
      'x-portkey-cache-namespace': 'call',
      'x-portkey-metadata': JSON.stringify({ app: 'shop', plan: 'pro', _user: 'u1', feature: 'summary' }),
    });
  });

  it('restores the outer scope after an override, and reads lazy metadata at header time', () => {
    let user = 'anonymous';
    runWithPortkeyContext({ traceId: 'outer', metadata: () => ({ _user: user }) }, () => {
      withPortkeyOverrides({ traceId: 'inner' }, () => expect(getPortkeyContext().traceId).toBe('inner'));
      expect(getPortkeyContext().traceId).toBe('outer');
      user = 'u-late';
      expect(JSON.parse(portkeyHeaders()['x-portkey-metadata']!)).toEqual({ _user: 'u-late' });
    });
  });

  it('starts a context from withPortkeyOverrides outside one, and portkeyHeaders works without one', () => {
    expect(portkeyHeaders({ virtualKey: 'vk' })).toEqual({ 'x-portkey-virtual-key': 'vk' });
    withPortkeyOverrides({ metadata: { job: 'nightly' } }, () => {
      expect(getPortkeyContext().traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(getPortkeyContext().metadata).toEqual({ job: 'nightly' });
    });
  });

  it('refuses a trace ID that cannot be a header', () => {
    expect(() => runWithPortkeyContext({ traceId: 'a\r\nb' }, () => 1)).toThrow(PortkeyContextError);
    runWithPortkeyContext({ traceId: 'ok' }, () => {
      expect(() => withPortkeyOverrides({ traceId: 'x\ny' }, () => 1)).toThrow(/"traceId"/);
    });
  });
});
