/**
 * The end of a request, for what its gateway calls spent: `onRequestEnd(summary, request)` once the
 * response has closed (finished, failed or abandoned by the client) and its calls have settled, and
 * an optional `Server-Timing` header.
 */
import type { ServerResponse } from 'node:http';
import { CONTEXT_CALLS } from './call-policy.js';
import type { PortkeyContextBase } from './context.js';
import { invalidOption, messageOf } from './errors.js';
import type { PortkeyUsageSummary, UsageLedger } from './usage-ledger.js';

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
   * the calls finished before the response's headers were sent (a `Server-Timing` the app sets is kept, before it).
   * @default false
   */
  serverTiming?: boolean;
}

/** How long `onRequestEnd` waits, after the response closed, for calls still in flight. */
const SETTLE_LIMIT_MS = 30_000;

/** The response as the end hooks use it: Node's (Express's, and Fastify's `reply.raw`). */
type EndResponse = Pick<ServerResponse, 'once' | 'writableFinished' | 'statusCode' | 'headersSent' | 'getHeader' | 'setHeader' | 'writeHead' | 'destroyed'> & {
  [ARMED]?: { context: PortkeyContextBase };
};

/**
 * Marks a response whose end hooks are armed, with the context they report on: a second middleware
 * (mounted twice) arms none, and its context, the one the route runs in, is reported.
 */
const ARMED = Symbol.for('portkey-context.request-end-armed');

/** `given` (a `Server-Timing` value or values) with `timing` after it. */
function withTiming(given: unknown, timing: string): string {
  if (given === undefined || given === null || given === '') return timing;
  return `${Array.isArray(given) ? given.join(', ') : String(given)}, ${timing}`;
}

/**
 * The `Server-Timing` entry for what the request's calls spent so far, set on the response or
 * merged into the headers given to `writeHead` (which Fastify passes all at once).
 */
function addServerTiming(response: EndResponse, ledger: UsageLedger, args: unknown[]): void {
  const timing = `portkey;dur=${ledger.latencyMs};desc="${ledger.finished} calls, ${ledger.totalTokens} tokens"`;
  const headers = typeof args[1] === 'object' && args[1] !== null ? args[1] : args[2];
  if (typeof headers === 'object' && headers !== null && !Array.isArray(headers)) {
    const record = headers as Record<string, unknown>;
    const name = Object.keys(record).find((key) => key.toLowerCase() === 'server-timing');
    if (name !== undefined) {
      record[name] = withTiming(record[name], timing);
      return;
    }
  }
  response.setHeader('server-timing', withTiming(response.getHeader('server-timing'), timing));
}

function failed(error: unknown): void {
  process.emitWarning(`The onRequestEnd option threw: ${messageOf(error)}`, {
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
    const armed = response[ARMED];
    if (armed !== undefined) {
      armed.context = context;
      return;
    }
    const state = { context };
    response[ARMED] = state;
    const started = performance.now();
    if (serverTiming) {
      const writeHead = response.writeHead;
      response.writeHead = function writeHeadWithServerTiming(this: EndResponse, ...args: unknown[]) {
        if (!this.headersSent) addServerTiming(this, state.context[CONTEXT_CALLS].ledger, args);
        return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
      } as EndResponse['writeHead'];
    }
    if (onRequestEnd === undefined) return;
    const closedEarly = response.destroyed === true;
    const atClose = () => {
      const ledger = state.context[CONTEXT_CALLS].ledger;
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      const clientDisconnected = closedEarly || !response.writableFinished;
      const report = (): void => {
        const summary: PortkeyRequestEndSummary = {
          traceId: state.context.traceId,
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
    };
    // Closed already (the client left while an earlier middleware was still running): no `close`
    // will come. Reported after the calls the rest of the request starts at once (aborted: the
    // context's signal has fired) have settled.
    if (closedEarly) setImmediate(atClose);
    else response.once('close', atClose);
  };
}
