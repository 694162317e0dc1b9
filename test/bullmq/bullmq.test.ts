/**
 * `portkey-context/bullmq` on a real queue: a real Redis (redis-server on 127.0.0.1), a real Express
 * app enqueueing inside its requests, a BullMQ worker in a process of its own making one `ChatPortkey`
 * call per job through the real Portkey gateway. What the gateway saw is read at the recording
 * proxy; what BullMQ stored, straight from Redis.
 */
import { performance } from 'node:perf_hooks';
import { type Job, Queue, QueueEvents } from 'bullmq';
import express from 'express';
import { Redis } from 'ioredis';
import { withPortkeyOverrides } from 'portkey-context';
import { portkeyMiddleware } from 'portkey-context/express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PORTKEY_JOB_KEY, portkeyJob } from 'portkey-context/bullmq';
import { type GatewayStack, type RecordedGatewayRequest, serveOnLoopback, startGatewayStack, waitUntil } from '../harness/index.js';
import { type RedisServer, startRedisServer } from './redis-server.js';
import type { TestJobData, TestJobResult } from './ask.js';
import { startWorkerProcess, type WorkerProcess } from './worker-process.js';

const QUEUE = 'summaries';

/** Every secret the app's context holds: none may reach Redis, nor the worker's gateway calls. */
const SECRETS = {
  apiKey: 'pk-live-SECRET-app-portkey-key',
  virtualKey: 'vk-SECRET-app-virtual-key',
  config: { provider: 'openai', api_key: 'sk-SECRET-config-api-key' },
  authorization: 'Bearer sk-SECRET-app-provider-auth',
  awsAccessKeyId: 'AKIASECRETAPPACCESSKEY',
  awsSecretAccessKey: 'SECRET-app-aws-secret-access-key',
  awsSessionToken: 'SECRET-app-aws-session-token',
  customHost: 'http://llm-user:SECRET-app-host-password@127.0.0.1:9/v1',
};
const SECRET_VALUES = [
  'pk-live-SECRET-app-portkey-key',
  'vk-SECRET-app-virtual-key',
  'sk-SECRET-config-api-key',
  'sk-SECRET-app-provider-auth',
  'AKIASECRETAPPACCESSKEY',
  'SECRET-app-aws-secret-access-key',
  'SECRET-app-aws-session-token',
  'SECRET-app-host-password',
  'SECRET', // and nothing that looks like one of them
];

let redis: RedisServer | undefined;
let stack: GatewayStack | undefined;
let worker: WorkerProcess | undefined;
let queue: Queue<TestJobData, TestJobResult> | undefined;
let events: QueueEvents | undefined;
/** The queue of the sandboxed worker (its processor file runs in a child process of the worker). */
let sandboxedQueue: Queue<TestJobData, TestJobResult> | undefined;
let sandboxedEvents: QueueEvents | undefined;
let raw: Redis | undefined;
let server: { url: string; close(): Promise<void> } | undefined;

beforeAll(async () => {
  const started = performance.now();
  // Both started, then either failure thrown: afterAll stops whatever did start.
  const [startedRedis, startedStack] = await Promise.allSettled([startRedisServer(), startGatewayStack()]);
  if (startedRedis.status === 'fulfilled') redis = startedRedis.value;
  if (startedStack.status === 'fulfilled') stack = startedStack.value;
  for (const start of [startedRedis, startedStack]) if (start.status === 'rejected') throw start.reason;
  if (!redis || !stack) throw new Error('unreachable');
  const connection = { host: redis.host, port: redis.port };
  worker = await startWorkerProcess({ redisPort: redis.port, queue: QUEUE, baseURL: stack.baseURL, providerOptions: stack.providerOptions, concurrency: 16 });
  queue = new Queue(QUEUE, { connection });
  queue.setMaxListeners(0); // one listener per job awaited with waitUntilFinished()
  events = new QueueEvents(QUEUE, { connection });
  sandboxedQueue = new Queue(`${QUEUE}-sandboxed`, { connection });
  sandboxedEvents = new QueueEvents(`${QUEUE}-sandboxed`, { connection });
  raw = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), sandboxedQueue.waitUntilReady(), sandboxedEvents.waitUntilReady(), raw.connect()]);

  const app = express();
  app.use(portkeyMiddleware({ ...SECRETS, metadata: { app: 'support' }, cacheNamespace: 'jobs' }));
  app.use(express.json());
  app.use((req, _res, next) => {
    const user = req.header('x-user'); // stand-in auth: trusts a header
    if (user) (req as { user?: unknown }).user = { id: user };
    next();
  });
  app.post('/jobs', async (req, res) => {
    const job = await withPortkeyOverrides({ metadata: { feature: 'summaries' } }, () =>
      (req.body.sandboxed ? sandboxedQueue! : queue!).add(
        'ask',
        portkeyJob({ question: String(req.body.question), ...(req.body.updateFirst ? { updateFirst: true } : {}) }),
        req.body.options,
      ),
    );
    res.status(202).json({ jobId: job.id });
  });
  server = await serveOnLoopback(app);
  console.log(`bullmq stack (redis, gateway, worker process) up in ${Math.round(performance.now() - started)} ms`);
}, 30_000);

afterAll(async () => {
  // Each step on its own: a failure in one must not leave the others running.
  const steps: (() => Promise<unknown> | undefined)[] = [
    () => worker?.stop(),
    () => events?.close(),
    () => queue?.close(),
    () => sandboxedEvents?.close(),
    () => sandboxedQueue?.close(),
    () => raw?.quit(),
    () => server?.close(),
    () => stack?.close(),
    () => redis?.stop(),
  ];
  for (const step of steps) await step()?.catch((error: unknown) => console.error('bullmq test cleanup:', error));
}, 30_000);

const metadataOf = (headers: Record<string, unknown>) => JSON.parse(String(headers['x-portkey-metadata'] ?? '{}'));
const questionOf = (sent: RecordedGatewayRequest): string | undefined => sent.body?.messages?.at(-1)?.content;
/** What the processor saw of its job's data on the attempt that sent this call. */
const dataKeysSeen = (sent: RecordedGatewayRequest): string | undefined => sent.body?.messages?.[0]?.content;
const sentFor = (question: string) => stack!.gatewayRequests.filter((sent) => questionOf(sent) === question);

/** Enqueues through the app, as `user`; the enqueueing request's trace ID and the job's ID. */
async function enqueue(question: string, user?: string, extra: { options?: object; updateFirst?: boolean; sandboxed?: boolean } = {}) {
  const call = request(server!.url).post('/jobs');
  if (user) call.set('x-user', user);
  const reply = await call.send({ question, ...extra });
  expect(reply.status).toBe(202);
  return { jobId: String(reply.body.jobId), traceId: String(reply.headers['x-portkey-trace-id']) };
}

async function finished(jobId: string, sandboxed = false): Promise<TestJobResult> {
  const job = (await (sandboxed ? sandboxedQueue! : queue!).getJob(jobId)) as Job<TestJobData, TestJobResult>;
  return job.waitUntilFinished(sandboxed ? sandboxedEvents! : events!, 20_000);
}

/** The job's hash exactly as BullMQ stored it in Redis, its data parsed. */
async function storedJob(jobId: string, queueName = QUEUE) {
  const hash = await raw!.hgetall(`bull:${queueName}:${jobId}`);
  return { hash, data: JSON.parse(hash.data!) as Record<string, any> };
}

describe('portkey-context/bullmq: jobs run in the context of the request that enqueued them', () => {
  it('200 jobs from 50 users enqueued concurrently: every gateway call carries its job\'s request trace ID and _user (0 mis-attributed)', async () => {
    stack!.reset();
    stack!.stub.script(() => ({ delayMs: Math.floor(Math.random() * 15) }));
    const t0 = performance.now();
    const jobs = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const user = `user-${i % 50}`;
        return { i, user, question: `job-${i}`, ...(await enqueue(`job-${i}`, user)) };
      }),
    );
    const enqueuedMs = performance.now() - t0;
    expect(new Set(jobs.map((job) => job.traceId)).size).toBe(200); // one generated trace ID per request
    const results = await Promise.all(jobs.map((job) => finished(job.jobId)));
    const doneMs = performance.now() - t0;

    const expected = new Map(jobs.map((job) => [job.question, job]));
    const sent = stack!.gatewayRequests.filter((request) => /^job-\d+$/.test(questionOf(request) ?? ''));
    expect(sent).toHaveLength(200);
    const misattributed = sent.filter((request) => {
      const job = expected.get(questionOf(request)!)!;
      return request.headers['x-portkey-trace-id'] !== job.traceId || metadataOf(request.headers)._user !== job.user;
    });
    console.log(`200 jobs: enqueued in ${Math.round(enqueuedMs)} ms, all done in ${Math.round(doneMs)} ms; mis-attributed gateway calls: ${misattributed.length}`);
    expect(misattributed.map((request) => `${questionOf(request)} sent ${request.headers['x-portkey-trace-id']}`)).toEqual([]);
    expect(new Set(sent.map((request) => request.headers['x-portkey-trace-id'])).size).toBe(200);

    for (const request of sent) {
      // The rest of the request's context: its metadata and non-secret options; none of its keys.
      expect(metadataOf(request.headers)).toMatchObject({ app: 'support', feature: 'summaries' });
      expect(request.headers['x-portkey-cache-namespace']).toBe('jobs');
      expect(request.headers['x-portkey-api-key']).toBe('pk-worker-key'); // the worker's own key
      expect(request.headers.authorization).toBe(stack!.providerOptions.authorization); // the worker's own routing
      expect(request.headers['x-portkey-custom-host']).toBe(stack!.stub.baseURL);
      expect(request.headers['x-portkey-virtual-key']).toBeUndefined();
      expect(request.headers['x-portkey-config']).toBeUndefined();
      expect(request.response?.status).toBe(200);
      expect(dataKeysSeen(request)).toBe('data keys: question');
    }
    // What each processor saw: the job's data without the stored context, inside the request's context.
    for (const [n, result] of results.entries()) {
      expect(result).toEqual({ traceId: jobs[n]!.traceId, user: jobs[n]!.user, dataKeys: ['question'], answer: `echo: job-${n}` });
    }
  });

  it('a job that fails once and is retried by BullMQ runs both attempts in the same context (and updateData keeps it)', async () => {
    stack!.reset();
    const failedOnce = new Set<string>();
    stack!.stub.script((body) => {
      const question = body?.messages?.at(-1)?.content;
      if (!String(question).startsWith('retry-') || failedOnce.has(question)) return undefined;
      failedOnce.add(question);
      return { status: 500, json: { error: { message: 'upstream hiccup', type: 'server_error' } } };
    });
    const plain = await enqueue('retry-plain', 'ada', { options: { attempts: 2 } });
    const updated = await enqueue('retry-after-update', 'bob', { options: { attempts: 2 }, updateFirst: true });
    const [plainResult, updatedResult] = await Promise.all([finished(plain.jobId), finished(updated.jobId)]);

    for (const [question, job, user] of [['retry-plain', plain, 'ada'], ['retry-after-update', updated, 'bob']] as const) {
      const attempts = sentFor(question);
      expect(attempts.map((request) => request.response?.status)).toEqual([500, 200]);
      for (const request of attempts) {
        expect(request.headers['x-portkey-trace-id']).toBe(job.traceId);
        expect(metadataOf(request.headers)._user).toBe(user);
        expect(dataKeysSeen(request)).toBe(question === 'retry-plain' ? 'data keys: question' : 'data keys: question,updateFirst');
      }
      const stored = await queue!.getJob(job.jobId);
      expect(stored?.attemptsStarted).toBe(2);
    }
    expect(plainResult).toMatchObject({ traceId: plain.traceId, user: 'ada', dataKeys: ['question'] });
    // The second attempt read the data the first one wrote, still without the stored context...
    expect(updatedResult).toMatchObject({ traceId: updated.traceId, user: 'bob', dataKeys: ['question', 'updateFirst'] });
    // ...and Redis holds the new data with the stored context kept.
    const { data } = await storedJob(updated.jobId);
    expect(data.updateFirst).toBe(false);
    expect(data[PORTKEY_JOB_KEY].traceId).toBe(updated.traceId);
  });

  it('in a sandboxed processor file (a child process of the worker): the same context, on both attempts, and updateData keeps it', async () => {
    stack!.reset();
    let failed = false;
    stack!.stub.script((body) => {
      if (body?.messages?.at(-1)?.content !== 'sandboxed-retry' || failed) return undefined;
      failed = true;
      return { status: 500, json: { error: { message: 'upstream hiccup', type: 'server_error' } } };
    });
    const job = await enqueue('sandboxed-retry', 'grace', { sandboxed: true, updateFirst: true, options: { attempts: 2 } });
    const result = await finished(job.jobId, true);
    expect(result).toMatchObject({ traceId: job.traceId, user: 'grace', dataKeys: ['question', 'updateFirst'] });
    const attempts = sentFor('sandboxed-retry');
    expect(attempts.map((request) => request.response?.status)).toEqual([500, 200]);
    for (const request of attempts) {
      expect(request.headers['x-portkey-trace-id']).toBe(job.traceId);
      expect(metadataOf(request.headers)._user).toBe('grace');
      expect(dataKeysSeen(request)).toBe('data keys: question,updateFirst'); // after updateData too
    }
    const { data } = await storedJob(job.jobId, `${QUEUE}-sandboxed`);
    expect(data).toMatchObject({ updateFirst: false, [PORTKEY_JOB_KEY]: { traceId: job.traceId } });
  });

  it('no secret reaches Redis: the stored context is the trace ID, the metadata and the non-secret options', async () => {
    const job = await enqueue('secret-check', 'carol');
    await finished(job.jobId);
    const { hash, data } = await storedJob(job.jobId);
    expect(Object.keys(data).sort()).toEqual([PORTKEY_JOB_KEY, 'question']);
    expect(data[PORTKEY_JOB_KEY]).toEqual({
      traceId: job.traceId,
      metadata: { _user: 'carol', _environment: 'test', app: 'support', feature: 'summaries' },
      options: { cacheNamespace: 'jobs' },
    });
    for (const secret of SECRET_VALUES) expect(JSON.stringify(hash)).not.toContain(secret);

    // Every key BullMQ wrote, whatever its type (jobs, events stream, lists, sets), for every job so far.
    const dump: string[] = [];
    for (const key of await raw!.keys('*')) {
      const type = await raw!.type(key);
      if (type === 'hash') dump.push(key, JSON.stringify(await raw!.hgetall(key)));
      else if (type === 'string') dump.push(key, String(await raw!.get(key)));
      else if (type === 'list') dump.push(key, ...(await raw!.lrange(key, 0, -1)));
      else if (type === 'set') dump.push(key, ...(await raw!.smembers(key)));
      else if (type === 'zset') dump.push(key, ...(await raw!.zrange(key, 0, -1)));
      else if (type === 'stream') dump.push(key, JSON.stringify(await raw!.xrange(key, '-', '+')));
      else throw new Error(`unexpected Redis type ${type} for ${key}`);
    }
    const everything = dump.join('\n');
    expect(everything).toContain(job.traceId); // the dump does hold the stored contexts
    for (const secret of SECRET_VALUES) expect(everything).not.toContain(secret);
    // Nor do the worker's gateway calls carry any of the app's secrets.
    for (const secret of SECRET_VALUES) expect(JSON.stringify(stack!.gatewayRequests.map((r) => r.headers))).not.toContain(secret);
  });

  it('a job enqueued outside any request runs with a trace ID of its own, <queue>:<job ID>, the same on every attempt; no user', async () => {
    stack!.reset();
    expect(portkeyJob({ question: 'cron-1' })).toEqual({ question: 'cron-1' }); // nothing stored outside a context
    const named = await queue!.add('ask', portkeyJob({ question: 'cron-1' }), { jobId: 'nightly-report-1' });
    const plain = await queue!.add('ask', { question: 'plain-1' }); // never went through portkeyJob()
    const [namedResult, plainResult] = await Promise.all([finished(named.id!), finished(plain.id!)]);
    expect(namedResult).toMatchObject({ traceId: `${QUEUE}:nightly-report-1`, dataKeys: ['question'] });
    expect(plainResult).toMatchObject({ traceId: `${QUEUE}:${plain.id}`, dataKeys: ['question'] });
    expect([namedResult.user, plainResult.user]).toEqual([undefined, undefined]);
    expect(plain.id).toMatch(/^\d+$/);
    expect(sentFor('cron-1')[0]!.headers['x-portkey-trace-id']).toBe(`${QUEUE}:nightly-report-1`);
    expect(sentFor('plain-1')[0]!.headers['x-portkey-trace-id']).toBe(`${QUEUE}:${plain.id}`);
    for (const request of [...sentFor('cron-1'), ...sentFor('plain-1')]) expect(metadataOf(request.headers)._user).toBeUndefined();
  });

  it('a stored context edited by hand in Redis, or written by something else, is not used: the job runs as one without, and the worker warns', async () => {
    stack!.reset();
    // Hand-edited: a delayed job's data rewritten in Redis before it runs.
    const edited = await enqueue('hand-edited', 'dave', { options: { delay: 60_000 } });
    const { data } = await storedJob(edited.jobId);
    data[PORTKEY_JOB_KEY] = { traceId: 'evil\r\nx-injected: 1', metadata: { _user: 'mallory' } };
    await raw!.hset(`bull:${QUEUE}:${edited.jobId}`, 'data', JSON.stringify(data));
    await (await queue!.getJob(edited.jobId))!.promote();
    // Written by another producer: not an object, a bad trace ID, bad metadata, a key portkeyJob() never stores.
    const others = await Promise.all(
      [
        ['not-an-object', 'garbage'],
        ['number-trace', { traceId: 42 }],
        ['bad-metadata', { traceId: 'fine-trace', metadata: 'nope' }],
        ['injected-key', { traceId: 'stolen-trace', metadata: { _user: 'mallory' }, options: { apiKey: 'pk-injected-key' } }],
      ].map(async ([question, stored]) => ({ question: question as string, job: await queue!.add('ask', { question, [PORTKEY_JOB_KEY]: stored } as never) })),
    );
    const results = await Promise.all([finished(edited.jobId), ...others.map(({ job }) => finished(job.id!))]);

    for (const [n, { question, id }] of [{ question: 'hand-edited', id: edited.jobId }, ...others.map(({ question, job }) => ({ question, id: job.id! }))].entries()) {
      expect(results[n]).toMatchObject({ traceId: `${QUEUE}:${id}`, dataKeys: ['question'] });
      expect(results[n]!.user).toBeUndefined();
      const [sent] = sentFor(question);
      expect(sent!.headers['x-portkey-trace-id']).toBe(`${QUEUE}:${id}`);
      expect(metadataOf(sent!.headers)._user).toBeUndefined();
      expect(sent!.headers['x-injected']).toBeUndefined();
      expect(sent!.headers['x-portkey-api-key']).toBe('pk-worker-key');
    }
    await waitUntil(() => worker!.output().includes('PORTKEY_INVALID_JOB_CONTEXT'));
    expect(worker!.output().match(/PORTKEY_INVALID_JOB_CONTEXT/g)).toHaveLength(1); // once per process
    expect(worker!.output()).not.toMatch(/TypeError|mallory|pk-injected-key/);
  });

  it('a stored customHost is never applied: the worker routes its own calls (a host read from Redis would get its provider auth)', async () => {
    stack!.reset();
    const stored = { traceId: 'routed-trace', metadata: { _user: 'erin' }, options: { customHost: 'http://127.0.0.1:9/v1', cacheNamespace: 'routed' } };
    const job = await queue!.add('ask', { question: 'routed', [PORTKEY_JOB_KEY]: stored } as never);
    expect(await finished(job.id!)).toMatchObject({ traceId: 'routed-trace', user: 'erin' });
    const [sent] = sentFor('routed');
    expect(sent!.headers['x-portkey-custom-host']).toBe(stack!.stub.baseURL);
    expect(sent!.headers['x-portkey-cache-namespace']).toBe('routed');
    expect(sent!.response?.status).toBe(200);
  });

  it("cancelling a job (worker.cancelJob) aborts its gateway call: the context's signal is BullMQ's", async () => {
    stack!.reset();
    stack!.stub.script((body) => (body?.messages?.at(-1)?.content === 'cancel-me' ? { hang: true } : undefined));
    const job = await enqueue('cancel-me', 'frank');
    await waitUntil(() => stack!.stub.requests.length === 1, 10_000);
    const cancelledAt = performance.now();
    worker!.cancel(job.jobId);
    await expect(finished(job.jobId)).rejects.toThrow();
    await waitUntil(() => sentFor('cancel-me')[0]?.closedAt !== undefined);
    const [sent] = sentFor('cancel-me');
    expect(sent!.clientAborted).toBe(true);
    expect(sent!.closedAt! - cancelledAt).toBeLessThan(1000);
    expect(sent!.headers['x-portkey-trace-id']).toBe(job.traceId);
  });
});
