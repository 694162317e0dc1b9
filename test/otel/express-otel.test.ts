/**
 * `portkey-context/otel` with a real OpenTelemetry setup (tracer provider, `instrumentation-http`
 * server spans, `instrumentation-undici` client spans for `fetch`) and a real Express app served
 * over HTTP, calling the real gateway with `portkeyFetch()` and `createPortkeyOpenAI()`.
 *
 * What the app sent is read at the recording proxy; the OpenTelemetry side from the spans the
 * in-memory exporter received. The instrumentation injects a `traceparent` into every gateway
 * request, naming its own client span as the parent: Portkey's hosted gateway would take that as
 * the parent of the call's span unless the call says otherwise, which it does (explicit span headers).
 */
// First: the instrumentations patch `http` before express loads it.
import { exporter } from './setup.js';
import { context, SpanKind, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-node';
import express from 'express';
import { getPortkeyContext, portkeyFetch } from 'portkey-context';
import { portkeyMiddleware } from 'portkey-context/express';
import { ChatPortkey } from 'portkey-context/langchain';
import { createPortkeyOpenAI } from 'portkey-context/openai';
import request from 'supertest';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  otelTraceId,
  otelTraceIdFrom,
  PORTKEY_TRACE_ID_ATTRIBUTE,
  setPortkeyTraceIdAttribute,
  type TraceIdSource,
} from 'portkey-context/otel';
import { type RecordedGatewayRequest, waitUntil } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';

const PORTKEY_KEY = 'pk-otel-test';
/** `generateSpanId()`: a UUID v4. */
const SPAN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

const stack = useGatewayStack();
beforeEach(() => {
  exporter.reset();
});

/** What a route saw: the Portkey trace ID, and the OpenTelemetry span active in the handler. */
interface Seen {
  portkeyTraceId: string;
  otel: { traceId: string; spanId: string };
  content: string;
}

function makeApp(traceIdFrom: readonly ('headers' | TraceIdSource)[], options: { tagSpan?: boolean } = {}) {
  const gatewayFetch = portkeyFetch(stack.providerOptions);
  const openai = createPortkeyOpenAI({ apiKey: PORTKEY_KEY, baseURL: stack.baseURL, ...stack.providerOptions });
  const model = new ChatPortkey({ model: 'gpt-4o-mini', apiKey: PORTKEY_KEY, baseURL: stack.baseURL, ...stack.providerOptions, maxRetries: 0 });
  const seen = (content: string | null | undefined): Seen => ({
    portkeyTraceId: getPortkeyContext().traceId,
    otel: trace.getSpanContext(context.active())!,
    content: content ?? '',
  });
  const app = express();
  app.use(portkeyMiddleware({ apiKey: PORTKEY_KEY, traceIdFrom }));
  if (options.tagSpan) {
    app.use((_req, _res, next) => {
      setPortkeyTraceIdAttribute();
      next();
    });
  }
  app.get('/fetch', async (req, res) => {
    const r = await gatewayFetch(`${stack.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: String(req.query.q) }] }),
    });
    const body: any = await r.json();
    res.json(seen(body.choices?.[0]?.message?.content));
  });
  app.get('/openai', async (req, res) => {
    const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: String(req.query.q) }] });
    res.json(seen(completion.choices[0]?.message.content));
  });
  app.get('/langchain', async (req, res) => {
    const reply = await model.invoke(String(req.query.q));
    res.json(seen(String(reply.content)));
  });
  return app;
}

/** The finished span with this ID (the server span ends once the response is written). */
async function finishedSpan(spanId: string): Promise<ReadableSpan> {
  const find = () => exporter.getFinishedSpans().find((s) => s.spanContext().spanId === spanId);
  await waitUntil(() => find() !== undefined);
  return find()!;
}

/** The one gateway request sent under this Portkey trace ID. */
function gatewayRequestOf(traceId: string): RecordedGatewayRequest {
  const found = stack.gatewayRequests.filter((r) => r.headers['x-portkey-trace-id'] === traceId);
  expect(found, `gateway requests with trace ${traceId}`).toHaveLength(1);
  return found[0]!;
}

/**
 * The gateway request carries the instrumentation's `traceparent` — the OpenTelemetry trace, with
 * the undici client span (a child of the server span) as its parent — and, besides it, our own
 * explicit span headers: a fresh span ID, and the Portkey trace's root span (its ID is the trace
 * ID) as the parent. Neither is the `traceparent`'s parent-id. Returns the traceparent's parts.
 */
async function expectExplicitSpans(sent: RecordedGatewayRequest, server: ReadableSpan, portkeyTraceId: string) {
  const traceparent = String(sent.headers.traceparent);
  const match = TRACEPARENT.exec(traceparent);
  expect(match, `traceparent ${traceparent}`).not.toBeNull();
  const [, otelTrace, parentId] = match!;
  expect(otelTrace).toBe(server.spanContext().traceId);
  const client = await finishedSpan(parentId!);
  expect(client.kind).toBe(SpanKind.CLIENT);
  expect(client.parentSpanContext?.spanId).toBe(server.spanContext().spanId);

  const spanId = String(sent.headers['x-portkey-span-id']);
  const parentSpanId = String(sent.headers['x-portkey-parent-span-id']);
  expect(spanId).toMatch(SPAN_ID);
  expect(parentSpanId).toBe(portkeyTraceId);
  expect([spanId, parentSpanId]).not.toContain(parentId);
  return { otelTrace: otelTrace!, parentId: parentId! };
}

describe('otelTraceId first: traceIdFrom [otelTraceId, "headers"]', () => {
  it('portkeyFetch() and createPortkeyOpenAI(): each gateway call is logged under its request’s OpenTelemetry trace, with our own span headers', async () => {
    const app = makeApp([otelTraceId, 'headers']);
    stack.stub.script(() => ({ delayMs: 5 + Math.floor(Math.random() * 25) }));
    const routes = Array.from({ length: 10 }, (_, i) => (i % 2 ? '/openai' : '/fetch'));
    const replies = await Promise.all(routes.map((route, i) => request(app).get(route).query({ q: `q-${i}` })));

    const traceIds = new Set<string>();
    for (const [i, reply] of replies.entries()) {
      expect(reply.status).toBe(200);
      const body = reply.body as Seen;
      expect(body.content).toContain(`q-${i}`);
      // The handler's active span is the instrumentation's server span: a root span (no traceparent came in).
      const server = await finishedSpan(body.otel.spanId);
      expect(server.kind).toBe(SpanKind.SERVER);
      expect(server.parentSpanContext).toBeUndefined();
      expect(server.attributes).toMatchObject({ 'url.path': routes[i], 'url.query': `q=q-${i}` });
      const otelTrace = server.spanContext().traceId;
      traceIds.add(otelTrace);

      expect(body.portkeyTraceId).toBe(otelTrace);
      expect(reply.headers['x-portkey-trace-id']).toBe(otelTrace);
      const sent = gatewayRequestOf(otelTrace);
      expect(sent.body.messages[0].content).toBe(`q-${i}`);
      expect(sent.response?.headers['x-portkey-trace-id']).toBe(otelTrace); // the gateway took it
      await expectExplicitSpans(sent, server, otelTrace);
    }
    expect(traceIds.size).toBe(10);
    expect(stack.gatewayRequests).toHaveLength(10);
  });

  it('an incoming x-request-id does not win over the OpenTelemetry trace ID', async () => {
    const app = makeApp(otelTraceIdFrom);
    const reply = await request(app).get('/fetch').query({ q: 'hello' }).set('x-request-id', 'client-request-1').expect(200);
    const body = reply.body as Seen;
    const server = await finishedSpan(body.otel.spanId);
    expect(body.portkeyTraceId).toBe(server.spanContext().traceId);
    expect(body.portkeyTraceId).not.toBe('client-request-1');
    expect(stack.gatewayRequests.map((r) => r.headers['x-portkey-trace-id'])).toEqual([server.spanContext().traceId]);
  });

  it('an incoming traceparent is continued by the server span, and so is the Portkey trace', async () => {
    const app = makeApp([otelTraceId, 'headers']);
    const incoming = { trace: '4bf92f3577b34da6a3ce929d0e0e4736', parent: '00f067aa0ba902b7' };
    const reply = await request(app).get('/openai').query({ q: 'continued' }).set('traceparent', `00-${incoming.trace}-${incoming.parent}-01`).expect(200);
    const server = await finishedSpan((reply.body as Seen).otel.spanId);
    expect(server.spanContext().traceId).toBe(incoming.trace);
    expect(server.parentSpanContext).toMatchObject({ spanId: incoming.parent, isRemote: true });
    const sent = gatewayRequestOf(incoming.trace);
    // The caller's span is not the call's parent either: the request's root span is.
    const { parentId } = await expectExplicitSpans(sent, server, incoming.trace);
    expect(parentId).not.toBe(incoming.parent);
  });
});

describe('headers first: traceIdFrom ["headers", otelTraceId]', () => {
  it('an incoming x-request-id wins; the OpenTelemetry trace still rides in traceparent, and the span headers are still ours', async () => {
    const app = makeApp(['headers', otelTraceId], { tagSpan: true });
    const reply = await request(app).get('/fetch').query({ q: 'hello' }).set('x-request-id', 'client-request-2').expect(200);
    const body = reply.body as Seen;
    expect(body.portkeyTraceId).toBe('client-request-2');
    expect(reply.headers['x-portkey-trace-id']).toBe('client-request-2');
    const server = await finishedSpan(body.otel.spanId);
    expect(server.spanContext().traceId).not.toBe('client-request-2');
    // setPortkeyTraceIdAttribute() in a middleware: the server span leads to the Portkey logs.
    expect(server.attributes[PORTKEY_TRACE_ID_ATTRIBUTE]).toBe('client-request-2');

    const sent = gatewayRequestOf('client-request-2');
    const { otelTrace } = await expectExplicitSpans(sent, server, 'client-request-2');
    expect(otelTrace).toBe(server.spanContext().traceId);
  });

  it('without a trace-ID header, the OpenTelemetry trace ID is used', async () => {
    const app = makeApp(['headers', otelTraceId], { tagSpan: true });
    const reply = await request(app).get('/openai').query({ q: 'no header' }).expect(200);
    const body = reply.body as Seen;
    const server = await finishedSpan(body.otel.spanId);
    expect(body.portkeyTraceId).toBe(server.spanContext().traceId);
    expect(server.attributes[PORTKEY_TRACE_ID_ATTRIBUTE]).toBe(server.spanContext().traceId);
    await expectExplicitSpans(gatewayRequestOf(server.spanContext().traceId), server, server.spanContext().traceId);
  });
});

/**
 * A bare `ChatPortkey` call (no LangChain parent run) names the context's root span (the trace ID)
 * as its parent explicitly, so the instrumentation's client span (from `traceparent`) is never it.
 */
describe('ChatPortkey under OpenTelemetry', () => {
  it('a bare invoke() names the request’s root span as its parent, not the traceparent’s client span', async () => {
    const app = makeApp(otelTraceIdFrom);
    const reply = await request(app).get('/langchain').query({ q: 'from langchain' }).expect(200);
    const body = reply.body as Seen;
    const server = await finishedSpan(body.otel.spanId);
    expect(body.portkeyTraceId).toBe(server.spanContext().traceId);
    await expectExplicitSpans(gatewayRequestOf(body.portkeyTraceId), server, body.portkeyTraceId);
  });
});
