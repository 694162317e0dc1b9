/**
 * The usage ledger's own bookkeeping: totals over every call, entries capped so a long-running
 * context (a job, a script) does not grow without bound, and `settled()` waiting for calls in flight.
 */
import { expect, it } from 'vitest';
import { readPortkeyResponseHeaders } from '../../src/gateway-fetch.js';
import { UsageLedger } from '../../src/usage-ledger.js';

it('keeps the last 1,000 entries; the totals count every call', () => {
  const ledger = new UsageLedger();
  for (let i = 0; i < 1_200; i++) {
    const call = ledger.start(`t${i}`, 'm');
    call.responded(200, readPortkeyResponseHeaders(new Headers({ 'x-portkey-cache-status': i % 10 === 0 ? 'HIT' : 'MISS', 'x-portkey-retry-attempt-count': '1' })), false);
    if (i % 100 === 0) call.failed('boom');
    else call.finished({ inputTokens: 2, outputTokens: 1, cachedInputTokens: 1 });
  }
  const summary = ledger.summary();
  expect(summary).toMatchObject({ calls: 1_200, failed: 12, inFlight: 0, inputTokens: 2_376, outputTokens: 1_188, cachedInputTokens: 1_188, totalTokens: 3_564, cacheHits: 120, retries: 1_200 });
  expect(summary.entries).toHaveLength(1_000);
  expect(summary.entries[0]!.traceId).toBe('t200');
});

it('settled() resolves once the calls in flight end; a call ends once', async () => {
  const ledger = new UsageLedger();
  const a = ledger.start('a', undefined);
  const b = ledger.start('b', undefined);
  let settled = false;
  const waiting = ledger.settled().then(() => {
    settled = true;
  });
  a.finished({ totalTokens: 5 });
  a.failed('late');
  await Promise.resolve();
  expect(settled).toBe(false);
  b.failed('cut');
  await waiting;
  expect(ledger.summary()).toMatchObject({ calls: 2, failed: 1, totalTokens: 5, inFlight: 0 });
});
