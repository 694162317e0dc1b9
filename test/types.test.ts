// Type-level contract of the public API: checked by `npm run typecheck` (tsc) and run as a no-op by vitest.
import type { Request } from 'express';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type PortkeyContext,
  type PortkeyContextError,
  type PortkeyContextErrorCode,
  type PortkeyOptions,
  portkeyHeaders,
  withPortkeyOverrides,
} from 'portkey-context';
import { type PortkeyMiddlewareOptions, portkeyMiddleware } from 'portkey-context/express';
import { type ChatPortkey, type ChatPortkeyCallOptions, type ChatPortkeyInput, type PortkeyResponseMetadata, portkeyResponseMetadata } from 'portkey-context/langchain';

describe('public types', () => {
  it('core', () => {
    expectTypeOf(portkeyHeaders).returns.toEqualTypeOf<Record<string, string>>();
    expectTypeOf(withPortkeyOverrides<number>).returns.toEqualTypeOf<number>();
    expectTypeOf<PortkeyContextError['code']>().toEqualTypeOf<PortkeyContextErrorCode>();
    expectTypeOf<PortkeyOptions['config']>().toEqualTypeOf<string | Record<string, unknown> | undefined>();
    expectTypeOf<PortkeyOptions['forwardHeaders']>().toEqualTypeOf<string[] | undefined>();
    // @ts-expect-error unknown options are refused
    const bad: PortkeyOptions = { traceID: 'x' };
    void bad;
  });

  it('express: req.portkey through declaration merging, and a middleware app.use accepts', () => {
    expectTypeOf<Request['portkey']>().toEqualTypeOf<PortkeyContext>();
    expectTypeOf<PortkeyMiddlewareOptions['responseHeader']>().toEqualTypeOf<string | false | undefined>();
    const metadata: PortkeyMiddlewareOptions['metadata'] = (req, defaults) => ({ ...defaults, plan: req.user?.plan });
    expectTypeOf(portkeyMiddleware({ metadata })).toBeFunction();
  });

  it('langchain', () => {
    expectTypeOf<ChatPortkeyCallOptions['portkey']>().toEqualTypeOf<PortkeyOptions | undefined>();
    expectTypeOf<ChatPortkeyInput['apiKey']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<ChatPortkeyInput['maxConcurrency']>().toEqualTypeOf<number | undefined>();
    expectTypeOf(portkeyResponseMetadata).returns.toEqualTypeOf<PortkeyResponseMetadata | undefined>();
    expectTypeOf<InstanceType<typeof ChatPortkey>['baseURL']>().toEqualTypeOf<string>();
  });
});
