/**
 * The life of a call in a real Express app with one shared ChatPortkey: a client that leaves
 * aborts its gateway call (and its queued calls are never sent), a normal request is never
 * aborted, and a failing call does not hold a concurrency slot while it waits to retry.
 */
import express from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runWithPortkeyContext } from 'portkey-context';
import { portkeyMiddleware } from 'portkey-context/express';
import { ChatPortkey } from 'portkey-context/langchain';
import { openRequest as openUrl, serveOnLoopback, waitUntil } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';

const stack = useGatewayStack();
let app: { url: string; close(): Promise<void> };
let model: ChatPortkey;
const outcomes: string[] = [];

beforeAll(async () => {
  model = new ChatPortkey({ model: 'gpt-4o-mini', apiKey: 'pk-life', baseURL: stack.baseURL, ...stack.providerOptions, maxConcurrency: 1 });
  const server = express();
  server.use(portkeyMiddleware());
  server.use(express.json());
  server.post('/chat', async (req, res) => {
    if (req.body?.waitMs) await new Promise((r) => setTimeout(r, req.body.waitMs)); // a slow handler
    try {
      const reply = await model.invoke(String(req.body?.q));
      outcomes.push('answered');
      res.json({ answer: reply.content });
    } catch (err: any) {
      outcomes.push(err.code ?? err.name);
      if (!res.headersSent && !res.destroyed) res.status(502).json({ error: err.message });
    }
  });
  server.post('/stream', async (req, res) => {
    try {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for await (const chunk of await model.stream(String(req.body?.q))) res.write(`data: ${JSON.stringify(chunk.content)}\n\n`);
      outcomes.push('streamed');
      res.end('event: done\ndata: {}\n\n');
    } catch (err: any) {
      outcomes.push(err.code ?? err.name);
      res.end();
    }
  });
  app = await serveOnLoopback(server);
});
afterAll(async () => {
  await app?.close();
});
beforeEach(() => {
  outcomes.length = 0;
});


const openRequest = (path: string, body: unknown) => openUrl(`${app.url}${path}`, body);

describe('client disconnects (Express, real gateway)', () => {
  it('invoke: the gateway call is closed within 100 ms of the client leaving', async () => {
    stack.stub.script(() => ({ delayMs: 5000 }));
    const client = openRequest('/chat', { q: 'slow' });
    await waitUntil(() => stack.stub.requests.length === 1);
    const leftAt = client.leave();
    await waitUntil(() => stack.gatewayRequests[0]?.closedAt !== undefined, 2000);
    const call = stack.gatewayRequests[0]!;
    expect(call.clientAborted).toBe(true);
    expect(call.closedAt! - leftAt).toBeLessThan(100);
    await waitUntil(() => outcomes.length === 1);
    expect(outcomes).toEqual(['CLIENT_DISCONNECTED']);
  });

  it('stream: a client leaving mid-stream closes the gateway stream within 100 ms', async () => {
    stack.stub.script(() => ({ chunkDelayMs: 300, content: 'a slow streamed answer that takes seconds' }));
    const client = openRequest('/stream', { q: 'slow stream' });
    await client.firstData;
    await waitUntil(() => stack.gatewayRequests[0]?.response !== undefined);
    const leftAt = client.leave();
    await waitUntil(() => stack.gatewayRequests[0]?.closedAt !== undefined, 2000);
    expect(stack.gatewayRequests[0]!.clientAborted).toBe(true);
    expect(stack.gatewayRequests[0]!.closedAt! - leftAt).toBeLessThan(100);
    await waitUntil(() => outcomes.length === 1);
    expect(outcomes).toEqual(['CLIENT_DISCONNECTED']);
  });

  it('maxConcurrency: 1 and 10 clients leaving: no queued call ever reaches the gateway', async () => {
    stack.stub.script(() => ({ delayMs: 1000 }));
    const clients = Array.from({ length: 10 }, (_, i) => openRequest('/chat', { q: `queued ${i}` }));
    await waitUntil(() => stack.gatewayRequests.length === 1);
    await new Promise((r) => setTimeout(r, 100)); // the other nine are waiting in the queue
    for (const client of clients) client.leave();
    await waitUntil(() => outcomes.length === 10, 3000);
    await new Promise((r) => setTimeout(r, 1500)); // long past the first call's slot
    expect(stack.gatewayRequests).toHaveLength(1);
    expect(outcomes).toEqual(Array(10).fill('CLIENT_DISCONNECTED'));
    // and the queue still serves the next request
    stack.stub.script(undefined);
    const res = await fetch(`${app.url}/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"q":"after"}' });
    expect(await res.json()).toEqual({ answer: 'echo: after' });
  });

  it('normal requests are never aborted: a POST with a body and a slow handler, a streamed response', async () => {
    stack.stub.script(() => ({ chunkDelayMs: 20 }));
    const post = await fetch(`${app.url}/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ q: 'patient', waitMs: 300, padding: 'x'.repeat(50_000) }),
    });
    expect(await post.json()).toEqual({ answer: 'echo: patient' });
    const stream = await fetch(`${app.url}/stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"q":"streamed fully"}' });
    expect(await stream.text()).toContain('event: done');
    expect(outcomes).toEqual(['answered', 'streamed']);
    expect(stack.gatewayRequests.map((r) => r.clientAborted)).toEqual([false, false]);
  });
});

describe('no head-of-line blocking', () => {
  it('with maxConcurrency: 4 and 4 calls failing with 500, another request\'s healthy call completes in < 2 s', async () => {
    const shared = new ChatPortkey({ model: 'gpt-4o-mini', apiKey: 'pk-life', baseURL: stack.baseURL, ...stack.providerOptions, maxConcurrency: 4 });
    stack.stub.script((body) => (String(body.messages.at(-1).content).startsWith('fail') ? { status: 500 } : undefined));
    const failing = Array.from({ length: 4 }, (_, i) =>
      runWithPortkeyContext({ traceId: `failing-${i}`, metadata: { _user: `u${i}` } }, () => shared.invoke(`fail ${i}`)).catch((e) => e),
    );
    await waitUntil(() => stack.stub.requests.length >= 4);
    const started = performance.now();
    const healthy = await runWithPortkeyContext({ traceId: 'healthy', metadata: { _user: 'other' } }, () => shared.invoke('all good'));
    const healthyMs = performance.now() - started;
    expect(healthy.content).toBe('echo: all good');
    expect(healthyMs).toBeLessThan(2000);
    const errors = await Promise.all(failing);
    expect(errors.map((e) => e.status)).toEqual([500, 500, 500, 500]);
    expect(stack.stub.requests.filter((r) => String(r.body.messages.at(-1).content).startsWith('fail'))).toHaveLength(12); // 3 attempts each
  });
});
