/**
 * The processor of the tests' jobs (inline in worker.ts and in sandboxed-processor.ts): one
 * `ChatPortkey` call through the real gateway, reporting what it saw.
 */
import { getPortkeyContext } from 'portkey-context';
import { ChatPortkey } from 'portkey-context/langchain';
import type { WorkerConfig } from './worker.js';

/** What the test's jobs carry (besides the stored context, which the processor never sees). */
export interface TestJobData {
  question: string;
  /** Rewrite the data with `job.updateData()` on the first attempt, before the call. */
  updateFirst?: boolean;
}

/** What each job returns: what the processor saw. */
export interface TestJobResult {
  traceId: string;
  user: string | undefined;
  dataKeys: string[];
  answer: unknown;
}

/** What of a job the processor uses: BullMQ's `Job` and a sandboxed job both have it. */
export interface AskJob {
  data: TestJobData;
  attemptsMade: number;
  updateData(data: TestJobData): Promise<unknown>;
}

const config = JSON.parse(process.env.BULLMQ_TEST_WORKER ?? '') as WorkerConfig;

// One model per process, as an app keeps it: its own Portkey key, routing to the stub, no retries
// of its own (a failed call fails the job's attempt: BullMQ retries it).
const model = new ChatPortkey({ model: 'gpt-4o-mini', apiKey: 'pk-worker-key', baseURL: config.baseURL, ...config.providerOptions, maxRetries: 0 });

export async function ask(job: AskJob): Promise<TestJobResult> {
  const context = getPortkeyContext();
  if (job.data.updateFirst && job.attemptsMade === 0) await job.updateData({ ...job.data, updateFirst: false });
  const dataKeys = Object.keys(job.data); // after updateData too: never the stored context
  // What this attempt saw of its data goes along to the gateway, where the test reads it.
  const reply = await model.invoke([
    ['system', `data keys: ${dataKeys.join(',')}`],
    ['user', job.data.question],
  ]);
  return { traceId: context.traceId, user: context.metadata._user as string | undefined, dataKeys, answer: reply.content };
}
