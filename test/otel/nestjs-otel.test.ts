/**
 * `PortkeyModule.forRoot({ traceIdFrom: otelTraceIdFrom })` with a real OpenTelemetry setup, on both
 * adapters. On Express the context starts in Nest middleware; on Fastify in the adapter's
 * `onRequest` hook (`setOnRequestHook`), before any middleware. In both places the HTTP server span
 * of `instrumentation-http` is already active, so the gateway call is logged under its trace ID.
 */
// First: the instrumentations patch `http` before the adapters load it.
import { exporter } from './setup.js';
import type { AddressInfo } from 'node:net';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { Controller, Get, type INestApplication, Inject, Module, Query } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { getPortkeyContext, portkeyFetch } from 'portkey-context';
import { PortkeyModule } from 'portkey-context/nestjs';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { otelTraceIdFrom } from 'portkey-context/otel';
import { type GatewayStack, waitUntil } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';

const STACK = Symbol('stack');
const stack = useGatewayStack();
beforeEach(() => {
  exporter.reset();
});

@Controller()
class AskController {
  readonly #fetch: typeof fetch;
  constructor(@Inject(STACK) private readonly stack: GatewayStack) {
    this.#fetch = portkeyFetch(stack.providerOptions);
  }

  @Get('ask')
  async ask(@Query('q') q: string) {
    const r = await this.#fetch(`${this.stack.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: q }] }),
    });
    const body: any = await r.json();
    return { content: body.choices?.[0]?.message?.content, portkeyTraceId: getPortkeyContext().traceId, otel: trace.getSpanContext(context.active()) };
  }
}

@Module({
  imports: [PortkeyModule.forRoot({ apiKey: 'pk-otel-nest', traceIdFrom: otelTraceIdFrom })],
  controllers: [AskController],
  providers: [{ provide: STACK, useValue: stack }],
})
class AppModule {}

const adapters = [
  { name: 'express', create: () => new ExpressAdapter() },
  { name: 'fastify', create: () => new FastifyAdapter() },
] as const;

describe.each(adapters)('PortkeyModule on $name with traceIdFrom: otelTraceIdFrom', (adapter) => {
  let app: INestApplication;
  let url: string;
  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication(adapter.create() as any, { logger: false });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app?.close();
  });

  it('the gateway call carries the OpenTelemetry server span’s trace ID (over an incoming x-request-id), with our span headers', async () => {
    const replies = await Promise.all(
      ['a', 'b', 'c'].map((q) => request(url).get('/ask').query({ q }).set('x-request-id', `client-${q}`).expect(200)),
    );
    for (const [i, reply] of replies.entries()) {
      const spanId = reply.body.otel.spanId as string;
      const find = () => exporter.getFinishedSpans().find((s) => s.spanContext().spanId === spanId);
      await waitUntil(() => find() !== undefined);
      const server = find()!;
      expect(server.kind).toBe(SpanKind.SERVER);
      expect(server.parentSpanContext).toBeUndefined();
      const otelTrace = server.spanContext().traceId;
      expect(reply.body.portkeyTraceId).toBe(otelTrace);
      expect(reply.headers['x-portkey-trace-id']).toBe(otelTrace);

      const sent = stack.gatewayRequests.filter((r) => r.headers['x-portkey-trace-id'] === otelTrace);
      expect(sent).toHaveLength(1);
      expect(sent[0]!.body.messages[0].content).toBe(['a', 'b', 'c'][i]);
      const [, traceparentTrace, traceparentParent] = String(sent[0]!.headers.traceparent).split('-');
      expect(traceparentTrace).toBe(otelTrace); // the undici instrumentation's, proving the hazard is there
      expect(sent[0]!.headers['x-portkey-parent-span-id']).toBe(otelTrace);
      expect(sent[0]!.headers['x-portkey-span-id']).not.toBe(traceparentParent);
    }
  });
});
