/**
 * The BullMQ worker of the tests, a process of its own (run with tsx): one inline worker on the
 * queue, one sandboxed (its processor file runs in a child process) on `<queue>-sandboxed`. Every
 * job makes one `ChatPortkey` call through the real gateway, inside `portkeyProcessor`. Configured by
 * the BULLMQ_TEST_WORKER environment variable (JSON); says `{ ready: true }` over IPC once both
 * listen; `{ cancel: jobId }` cancels a job of the inline worker, `{ close: true }` closes both and exits.
 */
import { Worker } from 'bullmq';
import { portkeyProcessor } from 'portkey-context/bullmq';
import { ask, type TestJobData, type TestJobResult } from './ask.js';

export interface WorkerConfig {
  redisPort: number;
  queue: string;
  baseURL: string;
  providerOptions: { provider: string; customHost: string; authorization: string };
  concurrency: number;
}

const config = JSON.parse(process.env.BULLMQ_TEST_WORKER ?? '') as WorkerConfig;
const connection = { host: '127.0.0.1', port: config.redisPort };

const inline = new Worker<TestJobData, TestJobResult>(config.queue, portkeyProcessor(ask), { connection, concurrency: config.concurrency });
const sandboxed = new Worker<TestJobData, TestJobResult>(`${config.queue}-sandboxed`, new URL('./sandboxed-processor.ts', import.meta.url), {
  connection,
  concurrency: 2,
});
for (const worker of [inline, sandboxed]) worker.on('error', (error) => console.error('worker error:', error));

process.on('message', async (message: { cancel?: string; close?: boolean }) => {
  if (message.cancel) inline.cancelJob(message.cancel, 'cancelled by the test');
  if (message.close) {
    await Promise.all([inline.close(), sandboxed.close()]);
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0)); // the test process went away

await Promise.all([inline.waitUntilReady(), sandboxed.waitUntilReady()]);
process.send?.({ ready: true });
