/**
 * The NestJS module's wiring mistakes fail at start-up with a message naming the fix, on both
 * platforms: imported without forRoot() (not Nest's generic dependency error) and imported twice.
 */
import { Controller, Get, Inject, Module } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { PortkeyContextService, PortkeyModule } from 'portkey-context/nestjs';
import { describe, expect, it } from 'vitest';

@Controller()
class AskController {
  constructor(@Inject(PortkeyContextService) private readonly portkey: PortkeyContextService) {}

  @Get('ask')
  ask() {
    return { traceId: this.portkey.traceId };
  }
}

@Module({ imports: [PortkeyModule.forRoot({ metadata: { feature: 'billing' } })] })
class BillingModule {}

const adapters = [
  ['express', () => new ExpressAdapter()],
  ['fastify', () => new FastifyAdapter()],
] as const;

async function start(imports: unknown[], adapter: () => ExpressAdapter | FastifyAdapter): Promise<Error | undefined> {
  @Module({ imports: imports as never, controllers: [AskController] })
  class AppModule {}
  try {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication(adapter() as never, { logger: false });
    await app.init();
    await app.close();
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

describe.each(adapters)('PortkeyModule wiring mistakes on %s', (_name, adapter) => {
  it('imported without forRoot(): the start-up error names forRoot()', async () => {
    const error = await start([PortkeyModule], adapter);
    expect(error?.message).toMatch(/imported without options: import PortkeyModule\.forRoot\(\)/);
  });

  it('imported twice with different options: the start-up error says to import it once', async () => {
    const error = await start([PortkeyModule.forRoot({ metadata: { app: 'support' } }), BillingModule], adapter);
    expect(error?.message).toMatch(/imported twice.*Import it once, in AppModule/);
  });

  it('imported once: starts', async () => {
    expect(await start([PortkeyModule.forRoot()], adapter)).toBeUndefined();
  });
});
