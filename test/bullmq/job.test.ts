/**
 * `portkeyJob()` and `portkeyProcessor()` on their own, without Redis: what is stored, what is
 * refused, what a processor sees. The real queue is in bullmq.test.ts.
 */
import { getPortkeyContext, PortkeyContextError, runWithPortkeyContext, tryGetPortkeyContext, withPortkeyOverrides } from 'portkey-context';
import { describe, expect, it } from 'vitest';
import { PORTKEY_JOB_KEY, portkeyJob, portkeyProcessor } from 'portkey-context/bullmq';

/** A job as BullMQ hands it to a processor: its data parsed from Redis, so a JSON round trip. */
const asStored = <T>(data: T) => ({ id: '7', queueName: 'emails', data: JSON.parse(JSON.stringify(data)) });

describe('portkeyJob()', () => {
  it('stores the context in force (trace ID, metadata resolved now, non-secret options) in a copy of the data', () => {
    const data = { docId: 42 };
    let user = 'ada';
    const job = runWithPortkeyContext(
      { traceId: 'req-1', metadata: () => ({ _user: user }), options: { apiKey: 'pk-secret-key', authorization: 'Bearer sk-secret', cacheNamespace: 'docs' } },
      () => withPortkeyOverrides({ metadata: { feature: 'summary' } }, () => portkeyJob(data)),
    );
    user = 'bob'; // resolved when the job was made
    expect(job).toEqual({ docId: 42, [PORTKEY_JOB_KEY]: { traceId: 'req-1', metadata: { _user: 'ada', feature: 'summary' }, options: { cacheNamespace: 'docs' } } });
    expect(data).toEqual({ docId: 42 }); // not changed
    expect(JSON.stringify(job)).not.toMatch(/secret/);
  });

  it('outside any context stores nothing, and drops a stored context the data already had', () => {
    expect(portkeyJob({ docId: 1 })).toEqual({ docId: 1 });
    expect(portkeyJob({ docId: 1, [PORTKEY_JOB_KEY]: { traceId: 'someone-else' } })).toEqual({ docId: 1 });
  });

  it('replaces a stored context with the one in force (data copied from another job)', () => {
    const copied = { docId: 1, [PORTKEY_JOB_KEY]: { traceId: 'old-trace' } };
    expect(runWithPortkeyContext({ traceId: 'new-trace' }, () => portkeyJob(copied))).toEqual({ docId: 1, [PORTKEY_JOB_KEY]: { traceId: 'new-trace' } });
  });

  it('refuses data that is not an object, saying what to do', () => {
    for (const data of [[1, 2], 'text', 42, null, undefined, new Date()]) {
      expect(() => portkeyJob(data as never)).toThrow(PortkeyContextError);
      expect(() => portkeyJob(data as never)).toThrow(/portkeyJob\(data\) takes the job's data as an object, got .+: wrap it/);
    }
  });
});

describe('portkeyProcessor()', () => {
  const seen = portkeyProcessor(async (job: { id?: string; queueName?: string; data: Record<string, unknown> }) => {
    const context = getPortkeyContext();
    return { traceId: context.traceId, metadata: context.metadata, headers: context.headers(), data: job.data };
  });

  it('runs the job in its stored context, with its data as given to portkeyJob()', async () => {
    const data = runWithPortkeyContext({ traceId: 'req-9', metadata: { _user: 'ada' } }, () => portkeyJob({ docId: 9 }));
    const result = await seen(asStored(data));
    expect(result).toMatchObject({ traceId: 'req-9', metadata: { _user: 'ada' }, data: { docId: 9 } });
    expect(tryGetPortkeyContext()).toBeUndefined(); // nothing leaks out of the job
  });

  it('a job without a stored context: <queue>:<id>, else a generated trace ID', async () => {
    expect((await seen(asStored({ docId: 1 }))).traceId).toBe('emails:7');
    expect((await seen({ id: '7', data: {} })).traceId).toBe('7');
    expect((await seen({ id: 'has spaces', queueName: 'emails', data: {} })).traceId).toMatch(/^[0-9a-f]{32}$/);
    expect((await seen({ data: {} })).traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('a job that enqueues another passes its own context on (the trace goes on)', async () => {
    const data = runWithPortkeyContext({ traceId: 'req-10', metadata: { _user: 'ada' } }, () => portkeyJob({ step: 1 }));
    const next = await portkeyProcessor(async (job: { data: { step: number } }) => portkeyJob({ step: job.data.step + 1 }))(asStored(data));
    expect(next).toEqual({ step: 2, [PORTKEY_JOB_KEY]: { traceId: 'req-10', metadata: { _user: 'ada' } } });
  });

  it('declares three parameters, so BullMQ hands it the cancellation signal, which the context carries', async () => {
    expect(seen.length).toBe(3);
    const controller = new AbortController();
    const signal = await portkeyProcessor(async () => getPortkeyContext().signal)(asStored({}), 'token', controller.signal);
    expect(signal).toBe(controller.signal);
  });

  it('refuses what is not a function (a sandboxed processor path: wrap inside that file)', () => {
    expect(() => portkeyProcessor('./processor.js' as never)).toThrow(/portkeyProcessor\(processor\) takes your processor function, got a string/);
  });
});
