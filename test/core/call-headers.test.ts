/**
 * `callOptionsInForce()` + `callHeaders()`: the per-call header build every client uses, with the
 * layers that do not change between calls made into headers once. Whatever it reuses, its headers
 * must be exactly those of the plain formula — every layer merged, then `createPortkeyHeaders` —
 * on the first call and on every later one.
 */
import fc from 'fast-check';
import { createPortkeyHeaders, PortkeyContextError, runWithPortkeyContext, tryGetPortkeyContext, withPortkeyOverrides } from 'portkey-context';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { callHeaders, callOptionsInForce } from '../../src/call-headers.js';
import type { PortkeyContext } from '../../src/context.js';
import { mergePortkeyOptions, type PortkeyOptions } from '../../src/options.js';
import { generateSpanId } from '../../src/trace-id.js';

/** The formula the cache must agree with (what every client did before it). */
function plainHeaders(context: PortkeyContext | undefined, defaults: PortkeyOptions | undefined, overrides?: PortkeyOptions): Record<string, string> {
  const environment = defaults?.apiKey === undefined && process.env.PORTKEY_API_KEY ? { apiKey: process.env.PORTKEY_API_KEY } : undefined;
  const layers = context === undefined ? [environment, defaults, overrides] : [environment, defaults, context.options, { traceId: context.traceId, metadata: context.metadata }, overrides];
  return createPortkeyHeaders(mergePortkeyOptions(...layers));
}

const safe = fc.stringMatching(/^[A-Za-z0-9._-]{0,12}$/);
const layer = fc.record(
  {
    apiKey: safe,
    virtualKey: safe,
    provider: fc.constantFrom('openai', 'anthropic', ''),
    config: fc.oneof(safe, fc.record({ retry: fc.record({ attempts: fc.integer({ min: 0, max: 5 }) }) })),
    cacheNamespace: safe,
    cacheForceRefresh: fc.boolean(),
    forwardHeaders: fc.array(fc.constantFrom('x-a', 'x-b'), { maxLength: 2 }),
    spanName: safe,
    metadata: fc.dictionary(fc.constantFrom('_user', 'feature', 'é'), fc.oneof(safe, fc.constant('naïve'))),
    traceId: fc.stringMatching(/^[A-Za-z0-9]{1,10}$/),
  },
  { requiredKeys: [] },
);

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('callHeaders(callOptionsInForce())', () => {
  it('equals the plain formula for any layers, on the first call and when reused, in a context, a scope and none', () => {
    fc.assert(
      fc.property(layer, layer, fc.option(layer, { nil: undefined }), fc.option(layer, { nil: undefined }), fc.option(safe, { nil: undefined }), (defaults, contextOptions, scope, overrides, envKey) => {
        if (envKey) vi.stubEnv('PORTKEY_API_KEY', envKey);
        else vi.stubEnv('PORTKEY_API_KEY', '');
        const { traceId: _t, metadata, ...options } = contextOptions;
        const check = () => {
          const context = tryGetPortkeyContext();
          for (let i = 0; i < 2; i++) {
            expect(callHeaders(callOptionsInForce(context, defaults, overrides))).toEqual(plainHeaders(context, defaults, overrides));
          }
        };
        check(); // no context
        runWithPortkeyContext({ traceId: 'ctx-1', metadata, options }, () => {
          check();
          if (scope !== undefined) withPortkeyOverrides(scope, check);
        });
        // a second context with the same app options object: the cached layers are reused
        runWithPortkeyContext({ traceId: 'ctx-2', metadata: { _user: 'other' }, options }, check);
      }),
      { numRuns: 300 },
    );
  });

  it("sends the fields a client sets on the call (its span) over the cached layers', and the layers' own otherwise", () => {
    const defaults = { apiKey: 'pk-1', provider: 'openai', spanName: 'model' };
    runWithPortkeyContext({ traceId: 'trace-a', metadata: { _user: 'u1' } }, () => {
      const first = callOptionsInForce(tryGetPortkeyContext(), defaults);
      const spanId = generateSpanId();
      Object.assign(first.options, { spanId, parentSpanId: 'trace-a', spanName: 'agent step' });
      expect(callHeaders(first)).toEqual({
        'x-portkey-api-key': 'pk-1',
        'x-portkey-provider': 'openai',
        'x-portkey-trace-id': 'trace-a',
        'x-portkey-metadata': '{"_user":"u1"}',
        'x-portkey-span-id': spanId,
        'x-portkey-parent-span-id': 'trace-a',
        'x-portkey-span-name': 'agent step',
      });
      // the next call of the same client reuses the layers: the span set on the first is not in them
      const second = callHeaders(callOptionsInForce(tryGetPortkeyContext(), defaults));
      expect(second['x-portkey-span-id']).toBeUndefined();
      expect(second['x-portkey-span-name']).toBe('model');
      // a per-call option that empties a layer's value removes its header
      expect(callHeaders(callOptionsInForce(tryGetPortkeyContext(), defaults, { provider: '' }))['x-portkey-provider']).toBeUndefined();
    });
  });

  it('reads PORTKEY_API_KEY once per context: a key changed between contexts is sent by the next one', () => {
    vi.stubEnv('PORTKEY_API_KEY', 'pk-env-1');
    const defaults = { provider: 'openai' };
    const options = { virtualKey: 'vk-1' };
    runWithPortkeyContext({ options }, () => expect(callHeaders(callOptionsInForce(tryGetPortkeyContext(), defaults))['x-portkey-api-key']).toBe('pk-env-1'));
    vi.stubEnv('PORTKEY_API_KEY', 'pk-env-2');
    runWithPortkeyContext({ options }, () => expect(callHeaders(callOptionsInForce(tryGetPortkeyContext(), defaults))['x-portkey-api-key']).toBe('pk-env-2'));
  });

  it('still refuses a per-call value that cannot be a header, and never caches it', () => {
    const defaults = { apiKey: 'pk-1' };
    runWithPortkeyContext({ traceId: 'trace-b' }, () => {
      const context = tryGetPortkeyContext();
      expect(() => callHeaders(callOptionsInForce(context, defaults, { cacheNamespace: 'a\r\nx-injected: 1' }))).toThrow(PortkeyContextError);
      const call = callOptionsInForce(context, defaults);
      call.options.spanName = 'bad\nname';
      expect(() => callHeaders(call)).toThrow(/INVALID_HEADER_VALUE|line break/);
      expect(callHeaders(callOptionsInForce(context, defaults))).toEqual({ 'x-portkey-api-key': 'pk-1', 'x-portkey-trace-id': 'trace-b' });
    });
  });
});
