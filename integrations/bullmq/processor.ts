import { runWithPortkeyContext } from '../../src/context.js';
import { describeType, PortkeyContextError } from '../../src/errors.js';
import { isPlainObject } from '../../src/headers.js';
import { generateTraceId, isValidTraceId } from '../../src/trace-id.js';
import { warnOnce } from '../../src/warnings.js';
import { PORTKEY_JOB_KEY, readStoredContext } from './job.js';

/**
 * The little of a BullMQ job {@link portkeyProcessor} reads: BullMQ's `Job` and, in a sandboxed
 * processor file, its `SandboxedJob` both have it. No BullMQ import is needed.
 */
export interface PortkeyJobLike {
  /** The job's ID: with the queue's name, the trace ID of a job that has no stored context. */
  readonly id?: string | undefined;
  /** The queue's name. */
  readonly queueName?: string | undefined;
  /** The job's data; the processor sees it without {@link PORTKEY_JOB_KEY}. */
  data: any;
  /** BullMQ's `job.updateData()`: kept working, and the stored context kept in what it writes. */
  updateData?: ((data: any) => Promise<unknown>) | undefined;
}

/** A BullMQ processor: `(job, token, signal)`. */
export type PortkeyJobProcessor<J extends PortkeyJobLike, R> = (job: J, token?: string, signal?: AbortSignal) => Promise<R>;


/**
 * Wraps a BullMQ processor so that each job runs inside the Portkey context {@link portkeyJob}
 * stored with it: every gateway call the job makes (`ChatPortkey`, `portkeyFetch()`, any client of
 * this package) carries the trace ID and user of the request that enqueued it, and the options it
 * stored. Every attempt of a job reads the stored context again, so a retried job runs in the same
 * context.
 *
 * - **The processor sees the job's data without {@link PORTKEY_JOB_KEY}**, as it was given to
 *   `portkeyJob()`; `job.updateData(data)` keeps the stored context in what it writes.
 * - **A job with no stored context** (enqueued without `portkeyJob()`, or outside any context) runs
 *   in a new context whose trace ID is `<queue name>:<job ID>` (e.g. `emails:42`, the same for every
 *   attempt), or a generated one when that is not a valid trace ID; it has no user.
 * - **A stored context that cannot be used** (edited by hand, written by something else, holding a
 *   key `portkeyJob()` never stores): the job runs as if it had none, and a process warning
 *   `PortkeyContextWarning` (`PORTKEY_INVALID_JOB_CONTEXT`) says why, once per process. Nothing of
 *   it is used. Never a raw `TypeError`.
 * - **Where calls go is the worker's own setting**: a stored `customHost` is never applied (a host
 *   read from Redis would receive the worker's provider auth); the worker's client routes.
 * - **Cancellation**: the context's signal is BullMQ's (`worker.cancelJob(id)`), so cancelling a
 *   job aborts its gateway calls.
 *
 * Works for an inline processor (`new Worker(name, portkeyProcessor(fn), opts)`) and in a sandboxed
 * processor file (`export default portkeyProcessor(async (job) => …)`).
 *
 * @param processor - your processor, unchanged.
 * @returns a processor for `new Worker()`.
 * @throws {@link PortkeyContextError} `INVALID_OPTION` when `processor` is not a function (a
 *   sandboxed processor's file path: wrap the function inside that file instead).
 *
 * @example
 * ```ts
 * const worker = new Worker('summaries', portkeyProcessor(async (job) => {
 *   const reply = await model.invoke(`Summarize document ${job.data.docId}`); // the request's trace ID and user
 *   return reply.content;
 * }), { connection, concurrency: 8 });
 * ```
 */
export function portkeyProcessor<J extends PortkeyJobLike, R>(
  processor: (job: J, token?: string, signal?: AbortSignal) => R | PromiseLike<R>,
): PortkeyJobProcessor<J, Awaited<R>> {
  if (typeof processor !== 'function') {
    throw new PortkeyContextError(
      'INVALID_OPTION',
      `portkeyProcessor(processor) takes your processor function, got ${describeType(processor)}: portkeyProcessor(async (job) => …).`,
    );
  }
  // Three parameters: BullMQ passes its cancellation signal only to a processor that declares it.
  return async function portkeyJobProcessor(job: J, token?: string, signal?: AbortSignal): Promise<Awaited<R>> {
    const stored = readStoredContext(job.data, signal);
    if (stored.kind !== 'none') hideStoredContext(job, stored.stored);
    if (stored.kind === 'valid') return await runWithPortkeyContext(stored.context, () => processor(job, token, signal));
    const traceId = jobTraceId(job);
    if (stored.kind === 'invalid') warnInvalid(job, stored.reason, traceId);
    const init = { traceId, ...(signal instanceof AbortSignal ? { signal } : {}) };
    return await runWithPortkeyContext(init, () => processor(job, token, signal));
  };
}

/** `<queue name>:<job ID>` when that is a valid trace ID, else a generated one. */
function jobTraceId(job: PortkeyJobLike): string {
  const id = job.id;
  const queue = job.queueName;
  const derived = typeof id === 'string' && id !== '' ? (typeof queue === 'string' && queue !== '' ? `${queue}:${id}` : id) : undefined;
  return isValidTraceId(derived) ? derived : generateTraceId();
}

/** The processor sees the data without the stored context; `updateData` writes it back with it. */
function hideStoredContext(job: PortkeyJobLike, stored: unknown): void {
  const { [PORTKEY_JOB_KEY]: _stored, ...data } = job.data as Record<string, unknown>;
  job.data = data;
  const updateData = job.updateData;
  if (typeof updateData !== 'function') return;
  job.updateData = function updateDataKeepingContext(next: unknown) {
    const written = isPlainObject(next) ? { ...next, [PORTKEY_JOB_KEY]: stored } : next;
    // BullMQ's sets job.data to what it writes: at once (Job), or once written (a sandboxed job).
    const done = Promise.resolve(updateData.call(job, written));
    job.data = next;
    return done.then((value) => {
      if (job.data === written) job.data = next;
      return value;
    });
  };
}

function warnInvalid(job: PortkeyJobLike, reason: string, traceId: string): void {
  warnOnce(
    'PORTKEY_INVALID_JOB_CONTEXT',
    `Job ${job.id ?? '(no ID)'} of queue ${job.queueName ?? '(unknown)'} has a stored Portkey context (data.${PORTKEY_JOB_KEY}) that cannot be used: ${reason}. ` +
      `It runs in a new context (trace ID ${traceId}, no user), as a job with none would. Store it with portkeyJob(data) only. (Warned once per process.)`,
  );
}
