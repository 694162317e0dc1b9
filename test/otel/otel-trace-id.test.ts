/**
 * `otelTraceId`, `otelTraceIdFrom` and `setPortkeyTraceIdAttribute` against the real OpenTelemetry
 * SDK, with spans started by hand (no instrumentation): which span contexts give a trace ID, how
 * `traceIdFrom` orders it with the headers in the Express middleware, and what happens with no SDK.
 */
import { context, INVALID_SPAN_CONTEXT, ROOT_CONTEXT, type Span, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, type Sampler, SamplingDecision, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import express from 'express';
import { getPortkeyContext, runWithPortkeyContext } from 'portkey-context';
import { portkeyMiddleware } from 'portkey-context/express';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { otelTraceId, otelTraceIdFrom, PORTKEY_TRACE_ID_ATTRIBUTE, setPortkeyTraceIdAttribute, type TraceIdSource } from 'portkey-context/otel';
import { serveOnLoopback } from '../harness/index.js';

/** Spans named `unsampled…` are not sampled (a non-recording span with a valid context); the rest are. */
const byName: Sampler = {
  shouldSample: (_context, _traceId, name) => ({
    decision: name.startsWith('unsampled') ? SamplingDecision.NOT_RECORD : SamplingDecision.RECORD_AND_SAMPLED,
  }),
  toString: () => 'by-name',
};
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ sampler: byName, spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('portkey-context-test');
const GENERATED = /^[0-9a-f]{32}$/;

beforeAll(() => {
  provider.register(); // AsyncLocalStorage context manager + W3C propagator, as an app's tracing setup does
});
beforeEach(() => exporter.reset());

/** Runs `fn` with a new span active, then ends the span. */
function inSpan<R>(name: string, fn: (span: Span) => R): R {
  return tracer.startActiveSpan(name, { root: true }, (span) => {
    try {
      return fn(span);
    } finally {
      span.end();
    }
  });
}

describe('otelTraceId', () => {
  it('is undefined with no active span', () => {
    expect(otelTraceId()).toBeUndefined();
    expect(context.with(ROOT_CONTEXT, () => otelTraceId())).toBeUndefined();
  });

  it('is the active span’s trace ID, in nested spans and across awaits', async () => {
    await inSpan('outer', async (outer) => {
      const traceId = outer.spanContext().traceId;
      expect(otelTraceId()).toBe(traceId);
      await new Promise((r) => setTimeout(r, 1));
      expect(otelTraceId()).toBe(traceId);
      tracer.startActiveSpan('inner', (inner) => {
        expect(inner.spanContext().traceId).toBe(traceId);
        expect(otelTraceId()).toBe(traceId);
        inner.end();
      });
    });
  });

  it('takes the trace ID of a span that is not sampled too (it is still the propagated trace)', () => {
    inSpan('unsampled request', (span) => {
      expect(span.isRecording()).toBe(false);
      expect(span.spanContext().traceFlags & TraceFlags.SAMPLED).toBe(0);
      expect(otelTraceId()).toBe(span.spanContext().traceId);
      expect(otelTraceId()).toMatch(GENERATED);
    });
  });

  it('takes a remote span context with no local span (extracted, not yet continued)', () => {
    const remote = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED, isRemote: true };
    expect(context.with(trace.setSpanContext(ROOT_CONTEXT, remote), () => otelTraceId())).toBe(remote.traceId);
  });

  it('is undefined for an invalid span context', () => {
    expect(context.with(trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext(INVALID_SPAN_CONTEXT)), () => otelTraceId())).toBeUndefined();
    const zeroSpan = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '0000000000000000', traceFlags: TraceFlags.SAMPLED };
    expect(context.with(trace.setSpanContext(ROOT_CONTEXT, zeroSpan), () => otelTraceId())).toBeUndefined();
  });

  it('otelTraceIdFrom is [otelTraceId, "headers"], frozen', () => {
    expect(otelTraceIdFrom).toEqual([otelTraceId, 'headers']);
    expect(Object.isFrozen(otelTraceIdFrom)).toBe(true);
  });
});

describe('traceIdFrom in the Express middleware, behind a server that starts a span per request', () => {
  /** Serves the app; each request runs in a new active root span named by `x-span-name`, or in none with `x-no-span`. */
  async function serve(traceIdFrom: readonly ('headers' | TraceIdSource)[]) {
    const app = express();
    app.use(portkeyMiddleware({ traceIdFrom }));
    app.get('/', (_req, res) => {
      res.json({ portkeyTraceId: getPortkeyContext().traceId, otelTraceId: trace.getSpanContext(context.active())?.traceId ?? null });
    });
    return serveOnLoopback((req, res) => {
      if (req.headers['x-no-span']) return app(req, res);
      tracer.startActiveSpan(String(req.headers['x-span-name'] ?? 'GET'), { kind: SpanKind.SERVER, root: true }, (span) => {
        res.on('finish', () => span.end());
        app(req, res);
      });
    });
  }
  let otelFirst: Awaited<ReturnType<typeof serve>>;
  let headersFirst: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    [otelFirst, headersFirst] = await Promise.all([serve(otelTraceIdFrom), serve(['headers', otelTraceId])]);
  });
  afterAll(async () => {
    await Promise.all([otelFirst?.close(), headersFirst?.close()]);
  });

  it('[otelTraceId, "headers"]: the span’s trace ID over an incoming x-request-id; without a span, the header; without either, a generated one', async () => {
    const spanned = await request(otelFirst.url).get('/').set('x-request-id', 'client-1').expect(200);
    expect(spanned.body.portkeyTraceId).toBe(spanned.body.otelTraceId);
    expect(spanned.body.portkeyTraceId).toMatch(GENERATED);

    const unsampled = await request(otelFirst.url).get('/').set('x-span-name', 'unsampled GET').set('x-request-id', 'client-2').expect(200);
    expect(unsampled.body.portkeyTraceId).toBe(unsampled.body.otelTraceId);

    const noSpan = await request(otelFirst.url).get('/').set('x-no-span', '1').set('x-request-id', 'client-3').expect(200);
    expect(noSpan.body).toEqual({ portkeyTraceId: 'client-3', otelTraceId: null });

    const nothing = await request(otelFirst.url).get('/').set('x-no-span', '1').expect(200);
    expect(nothing.body.portkeyTraceId).toMatch(GENERATED);
  });

  it('["headers", otelTraceId]: an incoming x-request-id over the span’s trace ID; without it, the span’s', async () => {
    const withHeader = await request(headersFirst.url).get('/').set('x-request-id', 'client-4').expect(200);
    expect(withHeader.body.portkeyTraceId).toBe('client-4');
    expect(withHeader.body.otelTraceId).toMatch(GENERATED);

    const withoutHeader = await request(headersFirst.url).get('/').expect(200);
    expect(withoutHeader.body.portkeyTraceId).toBe(withoutHeader.body.otelTraceId);
  });
});

describe('setPortkeyTraceIdAttribute', () => {
  it('puts the Portkey trace ID on the active span, or on the span given', () => {
    const given = tracer.startSpan('given');
    inSpan('active', () => {
      expect(runWithPortkeyContext({ traceId: 'portkey-trace-1' }, () => setPortkeyTraceIdAttribute())).toBe('portkey-trace-1');
      expect(runWithPortkeyContext({ traceId: 'portkey-trace-2' }, () => setPortkeyTraceIdAttribute(given))).toBe('portkey-trace-2');
    });
    given.end();
    const byName = Object.fromEntries(exporter.getFinishedSpans().map((s) => [s.name, s.attributes[PORTKEY_TRACE_ID_ATTRIBUTE]]));
    expect(byName).toEqual({ active: 'portkey-trace-1', given: 'portkey-trace-2' });
    expect(PORTKEY_TRACE_ID_ATTRIBUTE).toBe('portkey.trace_id');
  });

  it('does nothing outside a Portkey context, or with no span', () => {
    inSpan('no portkey context', () => {
      expect(setPortkeyTraceIdAttribute()).toBeUndefined();
    });
    expect(runWithPortkeyContext({ traceId: 'portkey-trace-3' }, () => setPortkeyTraceIdAttribute())).toBeUndefined();
    expect(exporter.getFinishedSpans()[0]!.attributes).not.toHaveProperty(PORTKEY_TRACE_ID_ATTRIBUTE);
  });
});

// Last: unregisters the SDK for the rest of this file's process.
describe('with no OpenTelemetry SDK registered', () => {
  it('otelTraceId is undefined even inside a span (no context manager carries it), and the next source is used', async () => {
    trace.disable();
    context.disable();
    const span = tracer.startSpan('orphan');
    expect(context.with(trace.setSpan(context.active(), span), () => otelTraceId())).toBeUndefined();
    span.end();

    const app = express();
    app.use(portkeyMiddleware({ traceIdFrom: otelTraceIdFrom }));
    app.get('/', (_req, res) => {
      res.json({ portkeyTraceId: getPortkeyContext().traceId });
    });
    expect((await request(app).get('/').set('x-request-id', 'no-sdk-1')).body.portkeyTraceId).toBe('no-sdk-1');
  });
});
