/**
 * `portkey-context/otel`: the OpenTelemetry bridge. Needs only `@opentelemetry/api` (an optional
 * peer); it reads whatever SDK and instrumentations the app registered, and registers nothing.
 *
 * - {@link otelTraceId} makes Portkey log a request's gateway calls under the request's
 *   OpenTelemetry trace ID (`traceIdFrom: [otelTraceId, 'headers']`, or {@link otelTraceIdFrom}).
 * - {@link setPortkeyTraceIdAttribute} puts the Portkey trace ID on a span, for when the two differ.
 *
 * The `traceparent` that OpenTelemetry's HTTP / fetch instrumentation adds to every outgoing request
 * (the gateway's too) names the instrumentation's own client span as the parent. Portkey's hosted
 * gateway reads it, so every gateway call made through `portkeyFetch()` (and the clients built on
 * it) in a request context also sends explicit `x-portkey-span-id` and `x-portkey-parent-span-id`,
 * which win: that needs nothing from this module.
 */
import { context, type Span, trace } from '@opentelemetry/api';
import { tryGetPortkeyContext } from '../../src/context.js';
import type { TraceIdSource } from '../../src/trace-id.js';

export type { TraceIdSource } from '../../src/trace-id.js';

/**
 * A trace-ID source (`traceIdFrom`) for `portkeyMiddleware()` and `PortkeyModule.forRoot()`: the
 * trace ID of the OpenTelemetry span active where the request's Portkey context starts — the HTTP
 * server span of `@opentelemetry/instrumentation-http` (active in Express middleware, Nest
 * middleware and the Fastify adapter's `onRequest` hook alike), which continues an incoming
 * `traceparent`. `undefined` (the next source is tried) when no span is active: no SDK or context
 * manager registered, no server instrumentation, or an invalid span context.
 *
 * A span that is not sampled still gives its trace ID: it is the ID OpenTelemetry propagates to the
 * gateway and downstream services (and puts in log correlation) whatever the sampling decision, so
 * Portkey's logs stay joinable with the rest; for sampled spans only, write your own source that
 * checks `spanContext().traceFlags & TraceFlags.SAMPLED`.
 *
 * It takes no argument (the request is not read): the trace ID comes from OpenTelemetry's active
 * context, so it is as trusted as OpenTelemetry's own propagation (an incoming `traceparent` sets
 * it; `trustIncoming` applies to `'headers'` only). Outside a request, call it yourself:
 * `runWithPortkeyContext({ traceId: otelTraceId() ?? job.id }, run)`.
 *
 * @returns the active span's 32-hex trace ID, or `undefined`.
 *
 * @example
 * ```ts
 * import { portkeyMiddleware } from 'portkey-context/express';
 * import { otelTraceId } from 'portkey-context/otel';
 * app.use(portkeyMiddleware({ traceIdFrom: [otelTraceId, 'headers'] }));
 * ```
 */
export function otelTraceId(): string | undefined {
  const spanContext = trace.getSpanContext(context.active());
  return spanContext !== undefined && trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

/**
 * `[otelTraceId, 'headers']`, frozen: the OpenTelemetry trace ID when a span is active, else the
 * trace-ID headers, else a generated ID. For `traceIdFrom`.
 *
 * @example
 * ```ts
 * PortkeyModule.forRoot({ traceIdFrom: otelTraceIdFrom });
 * ```
 */
export const otelTraceIdFrom: readonly ('headers' | TraceIdSource)[] = Object.freeze([otelTraceId, 'headers'] as const);

/** The span attribute {@link setPortkeyTraceIdAttribute} sets: `portkey.trace_id`. */
export const PORTKEY_TRACE_ID_ATTRIBUTE = 'portkey.trace_id';

/**
 * Puts the trace ID of the Portkey context in force on a span as `portkey.trace_id`, so a trace in
 * your OpenTelemetry backend leads to the request's Portkey logs — useful when the two IDs differ
 * (`traceIdFrom: ['headers', otelTraceId]` and a caller sent `x-request-id`). Call it where the
 * request's context and the span are both in force: in a middleware after `portkeyMiddleware()`,
 * where the active span is the HTTP server span (with `instrumentation-http` alone; a framework
 * instrumentation may make its own middleware span the active one: pass the span you want).
 *
 * @param span - the span to annotate; the active span by default.
 * @returns the trace ID set, or `undefined` when there is no Portkey context or no span.
 *
 * @example
 * ```ts
 * app.use(portkeyMiddleware({ traceIdFrom: ['headers', otelTraceId] }));
 * app.use((req, res, next) => { setPortkeyTraceIdAttribute(); next(); });
 * ```
 */
export function setPortkeyTraceIdAttribute(span: Span | undefined = trace.getSpan(context.active())): string | undefined {
  const traceId = tryGetPortkeyContext()?.traceId;
  if (traceId === undefined || span === undefined) return undefined;
  span.setAttribute(PORTKEY_TRACE_ID_ATTRIBUTE, traceId);
  return traceId;
}
