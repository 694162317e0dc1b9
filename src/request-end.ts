/**
 * The end of a request, for what its gateway calls spent: `onRequestEnd(summary, request)` once the
 * response has closed (finished, failed or abandoned by the client) and its calls have settled, and
 * an optional `Server-Timing` header.
 */
import type { ServerResponse } from 'node:http';
import { CONTEXT_CALLS } from './call-policy.js';
import type { PortkeyContextBase } from './context.js';
import { invalidOption } from './errors.js';
import type { PortkeyUsageSummary } from './usage-ledger.js';

/** What {@link RequestEndOptions.onRequestEnd} receives: the request's usage, and how the request ended. */
export interface PortkeyRequestEndSummary extends PortkeyUsageSummary {
  /** The request's trace ID. */
  traceId: string;
  /** The response's status code. */
  statusCode: number;
  /** The client went away before the response was complete. */
  clientDisconnected: boolean;
  /** Milliseconds from the start of the context to the response's close. */
  durationMs: number;
}

/** Options of the entry points (middleware, module) for the end of a request. */
export interface RequestEndOptions<Req> {
  /**
   * Called once per request, after the response closed — finished, failed, or abandoned by the
   * client — and the request's gateway calls settled (at most 30 s later): for logs, quotas,
   * billing. Its errors (and rejections) become process warnings; they never reach the request.
   */
  onRequestEnd?: (summary: PortkeyRequestEndSummary, request: Req) => void | PromiseLike<void>;
  /**
   * Add `Server-Timing: portkey;dur=<ms>;desc="<calls> calls, <tokens> tokens"` to each response:
   * the calls finished before the response's headers were sent.
   * @default false
   */
  serverTiming?: boolean;
}

/** How long `onRequestEnd` waits, after the response closed, for calls still in flight. */
const SETTLE_LIMIT_MS = 30_000;

/** The response as the end hooks use it: Node's (Express's, and Fastify's `reply.raw`). */
type EndResponse = Pick<ServerResponse, 'once' | 'writableFinished' | 'statusCode' | 'headersSent' | 'getHeader' | 'setHeader' | 'writeHead'>;

function failed(error: unknown): void {
  process.emitWarning(`The onRequestEnd option threw: ${error instanceof Error ? error.message : String(error)}`, {
    type: 'PortkeyContextWarning',
    code: 'PORTKEY_ON_REQUEST_END_FAILED',
  });
}

function settledOrLimit(settled: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, SETTLE_LIMIT_MS);
    timer.unref();
  });
  return Promise.race([settled, limit]).finally(() => clearTimeout(timer));
}

/**
 * Checks the end options once, at start-up, and compiles them into what is armed per request.
 *
 * @returns `undefined` when neither option is set (nothing is done per request).
 * @throws {@link PortkeyContextError} `INVALID_OPTION`.
 */
export function compileRequestEnd<Req>(options: RequestEndOptions<Req>): ((context: PortkeyContextBase, request: Req, response: EndResponse) => void) | undefined {
  const onRequestEnd = Object.hasOwn(options, 'onRequestEnd') ? options.onRequestEnd : undefined;
  const serverTiming = Object.hasOwn(options, 'serverTiming') ? options.serverTiming : undefined;
  if (onRequestEnd !== undefined && typeof onRequestEnd !== 'function') throw invalidOption('onRequestEnd', 'a function (summary, request) => void', onRequestEnd);
  if (serverTiming !== undefined && typeof serverTiming !== 'boolean') throw invalidOption('serverTiming', 'a boolean', serverTiming);
  if (onRequestEnd === undefined && !serverTiming) return undefined;
  return (context, request, response) => {
    const ledger = context[CONTEXT_CALLS].ledger;
    const started = performance.now();
    if (serverTiming) {
      const writeHead = response.writeHead;
      response.writeHead = function writeHeadWithServerTiming(this: EndResponse, ...args: unknown[]) {
        if (!this.headersSent) {
          const { calls, totalTokens, latencyMs } = ledger.summary();
          const timing = `portkey;dur=${latencyMs};desc="${calls} calls, ${totalTokens} tokens"`;
          const given = this.getHeader('server-timing');
          this.setHeader('server-timing', given === undefined ? timing : `${String(given)}, ${timing}`);
        }
        return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
      } as EndResponse['writeHead'];
    }
    if (onRequestEnd === undefined) return;
    response.once('close', () => {
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      const clientDisconnected = !response.writableFinished;
      const report = (): void => {
        const summary: PortkeyRequestEndSummary = {
          traceId: context.traceId,
          statusCode: response.statusCode,
          clientDisconnected,
          durationMs,
          ...ledger.summary(),
        };
        try {
          const result = onRequestEnd(summary, request);
          if (result && typeof result.then === 'function') result.then(undefined, failed);
        } catch (error) {
          failed(error);
        }
      };
      if (ledger.inFlight === 0) report();
      else settledOrLimit(ledger.settled()).then(report);
    });
  };
}
