/**
 * A real OpenTelemetry setup, as an app's `--import`ed tracing file would make it: a Node tracer
 * provider (AsyncLocalStorage context manager, W3C trace-context propagator) exporting to memory,
 * `instrumentation-http` (server spans for incoming requests) and `instrumentation-undici` (client
 * spans for `fetch`, and the `traceparent` it injects into them).
 *
 * Import it first in a test file, before express or anything that loads `http`. Outgoing `http`
 * requests (supertest's, the recording proxy's) are not instrumented, so a test controls exactly
 * what reaches the app: no `traceparent` unless it sends one.
 */
import { createRequire } from 'node:module';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';

export const exporter = new InMemorySpanExporter();
export const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();

export const httpInstrumentation = new HttpInstrumentation({ ignoreOutgoingRequestHook: () => true });
export const undiciInstrumentation = new UndiciInstrumentation();
registerInstrumentations({ tracerProvider: provider, instrumentations: [httpInstrumentation, undiciInstrumentation] });

// The http instrumentation patches `http` when it is next required: do it now, so every server made
// from here on (by express, supertest or the harness) creates server spans.
createRequire(import.meta.url)('node:http');
