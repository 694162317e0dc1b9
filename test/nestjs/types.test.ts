// Type-level contract of portkey-context/nestjs: checked by `npm run typecheck` (tsc), a no-op under vitest.
import type { DynamicModule } from '@nestjs/common';
import type { Request } from 'express';
import type { FastifyRequest } from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';
import type { PortkeyContext, PortkeyMetadataRecord, PortkeyOptions } from 'portkey-context';
import {
  PORTKEY_MODULE_OPTIONS,
  PortkeyContextService,
  PortkeyMetadata,
  PortkeyModule,
  type PortkeyModuleAsyncOptions,
  type PortkeyModuleOptions,
  PortkeyTraceId,
} from 'portkey-context/nestjs';

describe('portkey-context/nestjs public types', () => {
  it('module options: core options + request options, metadata(req) typed by the request of the platform', () => {
    expectTypeOf(PortkeyModule.forRoot).returns.toEqualTypeOf<DynamicModule>();
    expectTypeOf(PortkeyModule.forRootAsync).returns.toEqualTypeOf<DynamicModule>();
    expectTypeOf<PortkeyModuleOptions['responseHeader']>().toEqualTypeOf<string | false | undefined>();
    expectTypeOf<PortkeyModuleOptions['trustIncoming']>().toEqualTypeOf<boolean | undefined>();
    expectTypeOf<PortkeyModuleOptions['virtualKey']>().toEqualTypeOf<PortkeyOptions['virtualKey']>();
    expectTypeOf<PortkeyModuleAsyncOptions['useFactory']>().returns.toEqualTypeOf<PortkeyModuleOptions<any> | Promise<PortkeyModuleOptions<any>>>();
    PortkeyModule.forRoot({ metadata: (req: FastifyRequest, defaults) => ({ ...defaults, ip: req.ip }) });
    PortkeyModule.forRoot({ metadata: (req: Request, defaults) => ({ ...defaults, ip: req.ip }) });
    PortkeyModule.forRoot({ metadata: (req, defaults) => ({ ...defaults, plan: req.user?.plan }) });
    // @ts-expect-error the trace ID is per request, not a module option
    PortkeyModule.forRoot({ traceId: 'fixed' });
    expectTypeOf(PORTKEY_MODULE_OPTIONS).toBeSymbol();
  });

  it('service and decorators', () => {
    expectTypeOf<PortkeyContextService['traceId']>().toEqualTypeOf<string>();
    expectTypeOf<PortkeyContextService['metadata']>().toEqualTypeOf<PortkeyMetadataRecord>();
    expectTypeOf<PortkeyContextService['context']>().toEqualTypeOf<PortkeyContext>();
    expectTypeOf<PortkeyContextService['headers']>().parameters.toEqualTypeOf<[overrides?: PortkeyOptions]>();
    expectTypeOf<PortkeyContextService['headers']>().returns.toEqualTypeOf<Record<string, string>>();
    expectTypeOf(new PortkeyContextService().run<number>).returns.toEqualTypeOf<number>();
    expectTypeOf(PortkeyTraceId()).toEqualTypeOf<ParameterDecorator>();
    expectTypeOf(PortkeyMetadata('_user')).toEqualTypeOf<ParameterDecorator>();
  });
});
