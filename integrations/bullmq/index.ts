/**
 * `portkey-context/bullmq`: background jobs on BullMQ that carry the Portkey context of the request
 * that enqueued them. No runtime import of `bullmq`: the functions work on the job's data and on the
 * processor function, so any BullMQ version (and a sandboxed processor file) takes them.
 *
 * @example
 * ```ts
 * // in the app, inside a request
 * await queue.add('summarize', portkeyJob({ docId }));
 * // in the worker process
 * new Worker('summaries', portkeyProcessor(async (job) => model.invoke(`Summarize ${job.data.docId}`)), { connection });
 * ```
 */
export { PORTKEY_JOB_KEY, portkeyJob } from './job.js';
export { type PortkeyJobLike, type PortkeyJobProcessor, portkeyProcessor } from './processor.js';
