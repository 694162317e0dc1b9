/**
 * Tenants and the usage ledger in a real Nest app, on Express and on Fastify, through the real
 * gateway: the tenant is resolved after the guard set the user, every gateway request carries its
 * own tenant's key and cache namespace, `PortkeyContextService.usage` and `onRequestEnd` hold the
 * request's own calls with the provider's figures, and `requireTenant` sends nothing without one.
 */
import type { AddressInfo } from 'node:net';
import {
  type CanActivate,
  Controller,
  type ExecutionContext,
  ForbiddenException,
  Get,
  Inject,
  Injectable,
  Module,
  Post,
  Query,
  UseGuards,
} from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PortkeyContextError, type PortkeyRequestEndSummary, type TenantRouting } from 'portkey-context';
import { ChatPortkey } from 'portkey-context/langchain';
import { PortkeyContextService, PortkeyModule } from 'portkey-context/nestjs';
import { openRequest, waitUntil } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';

const stack = useGatewayStack();
const MODEL = Symbol('model');
const ended: PortkeyRequestEndSummary[] = [];
const TENANTS: Record<string, TenantRouting> = {
  acme: { id: 'acme', apiKey: 'pk-acme' },
  globex: { id: 'globex', apiKey: 'pk-globex', cacheNamespace: 'gx' },
};

/** passport's AuthGuard in miniature: the user and their tenant from test headers. */
@Injectable()
class FakeAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    const id = request.headers['x-test-user'];
    if (typeof id === 'string') request.user = { id, tenant: request.headers['x-test-tenant'] };
    return true;
  }
}

@Controller()
@UseGuards(FakeAuthGuard)
class AskController {
  constructor(
    @Inject(MODEL) private readonly model: ChatPortkey,
    @Inject(PortkeyContextService) private readonly portkey: PortkeyContextService,
  ) {}

  @Get('ask')
  async ask(@Query('q') q: string) {
    try {
      await this.model.invoke(`${q} invoked`);
      for await (const _chunk of await this.model.stream(`${q} streamed`));
    } catch (error) {
      if (error instanceof PortkeyContextError && error.code === 'NO_TENANT') throw new ForbiddenException(error.code);
      throw error;
    }
    return { usage: this.portkey.usage };
  }

  @Post('slow')
  async slow(@Query('q') q: string) {
    await this.model.invoke(q).catch(() => undefined);
    return {};
  }
}

function appModule(model: ChatPortkey) {
  @Module({
    imports: [
      PortkeyModule.forRoot({
        ...stack.providerOptions,
        requireTenant: true,
        tenant: async (req) => {
          await new Promise((resolve) => setTimeout(resolve, 2));
          const name = req.user?.tenant;
          return typeof name === 'string' ? TENANTS[name] : undefined;
        },
        onRequestEnd: (summary) => {
          ended.push(summary);
        },
        serverTiming: true,
      }),
    ],
    controllers: [AskController],
    providers: [{ provide: MODEL, useValue: model }],
  })
  class AppModule {}
  return AppModule;
}

beforeEach(() => {
  ended.length = 0;
  stack.stub.script((body) => {
    const size = JSON.stringify(body.messages).length;
    return { delayMs: size % 20, usage: { prompt_tokens: size, completion_tokens: 3, total_tokens: size + 3 } };
  });
});

const adapters = [
  { name: 'express', create: () => new ExpressAdapter() },
  { name: 'fastify', create: () => new FastifyAdapter() },
] as const;

describe.each(adapters)('tenants and usage on Nest ($name, real gateway)', (adapter) => {
  let app: INestApplication;
  let url: string;
  beforeAll(async () => {
    const model = new ChatPortkey({ model: 'gpt-4o-mini', baseURL: stack.baseURL, maxRetries: 0 });
    const moduleRef = await Test.createTestingModule({ imports: [appModule(model)] }).compile();
    app = moduleRef.createNestApplication(adapter.create() as any, { logger: false });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app?.close();
  });

  it('40 overlapping requests of 2 tenants: their own key and namespace on every gateway request; usage and onRequestEnd equal the provider\'s figures', async () => {
    const responses = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const tenant = i % 2 ? 'globex' : 'acme';
        const res = await fetch(`${url}/ask?q=${encodeURIComponent(`n${i}x of ${tenant}`)}`, {
          headers: { 'x-request-id': `nest-${i}`, 'x-test-user': `u${i}`, 'x-test-tenant': tenant },
        });
        return { i, tenant, res, body: (await res.json()) as { usage: unknown } };
      }),
    );
    await waitUntil(() => ended.length === 40);
    for (const { i, tenant, res, body } of responses) {
      expect(res.status, `request ${i}`).toBe(200);
      const mine = stack.stub.requests.filter((sent) => JSON.stringify(sent.body.messages).includes(`n${i}x `));
      expect(mine).toHaveLength(2);
      const totals = { calls: 2, tenant, inputTokens: mine.reduce((t, s) => t + (s.usage as any).prompt_tokens, 0), outputTokens: 6 };
      expect(body.usage).toMatchObject({ ...totals, failed: 0 });
      expect(ended.filter((e) => e.traceId === `nest-${i}`)).toMatchObject([{ ...totals, statusCode: 200, clientDisconnected: false }]);
      expect(res.headers.get('server-timing')).toMatch(/^portkey;dur=[\d.]+;desc="2 calls, \d+ tokens"$/);
    }
    expect(stack.gatewayRequests).toHaveLength(80);
    let wrong = 0;
    for (const sent of stack.gatewayRequests) {
      const [, i, tenant] = /n(\d+)x of (acme|globex)/.exec(JSON.stringify(sent.body))!;
      const routing = TENANTS[tenant!]!;
      if (
        sent.headers['x-portkey-trace-id'] !== `nest-${i}` ||
        sent.headers['x-portkey-api-key'] !== routing.apiKey ||
        sent.headers['x-portkey-cache-namespace'] !== (routing.cacheNamespace ?? routing.id) ||
        JSON.parse(String(sent.headers['x-portkey-metadata']))._user !== `u${i}`
      ) {
        wrong++;
      }
    }
    expect(wrong).toBe(0);
  });

  it('requireTenant: a request without a tenant sends nothing; onRequestEnd still runs, once', async () => {
    const res = await fetch(`${url}/ask?q=nobody`, { headers: { 'x-request-id': 'nest-none', 'x-test-user': 'u-none' } });
    expect(res.status).toBe(403);
    await waitUntil(() => ended.length === 1);
    expect(ended[0]).toMatchObject({ traceId: 'nest-none', statusCode: 403, calls: 0 });
    expect(stack.gatewayRequests).toHaveLength(0);
  });

  it('a client that disconnects: onRequestEnd runs once, after the aborted call settled', async () => {
    stack.stub.script(() => ({ delayMs: 5_000 }));
    const client = openRequest(`${url}/slow?q=gone`, {}, { 'x-test-user': 'u-g', 'x-test-tenant': 'acme' });
    await waitUntil(() => stack.stub.requests.length === 1);
    client.leave();
    await waitUntil(() => ended.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({ tenant: 'acme', clientDisconnected: true, calls: 1, failed: 1, inFlight: 0 });
  });
});
