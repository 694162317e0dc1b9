/**
 * The fault matrix: the README's Express + ChatPortkey app, with default retry and timeout options,
 * in front of the real gateway and a scripted upstream. For each fault: the error's class, code and
 * message (upstream or gateway text, trace ID once, no key), how long it took, and that the server
 * keeps serving with no unhandled rejection.
 */
import { createServer } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { portkeyMiddleware } from 'portkey-context/express';
import { ChatPortkey, type ChatPortkeyInput } from 'portkey-context/langchain';
import { type StubReply, serveOnLoopback } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';

const PORTKEY_KEY = 'pk-fault-matrix-key';
const stack = useGatewayStack();
let app: { url: string; close(): Promise<void> };
let models: Record<string, ChatPortkey>;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

/** What the app's error handler reports about an error, plus the route's own timing. */
interface Reported {
  status: number;
  error?: { name: string; code?: string; status?: number; message: string; stack: string; traceId?: string; elapsedMs: number };
  streamed?: string;
  traceId: string;
}

/** A port nothing listens on: taken from the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
let downURL: string;
/** A server in front of the gateway that answers every request with a 307 to the real gateway. */
let redirector: { url: string; close(): Promise<void> };
let redirected = 0;

beforeAll(async () => {
  downURL = `http://127.0.0.1:${await closedPort()}/v1`;
  process.on('unhandledRejection', onUnhandled);
  redirector = await serveOnLoopback((req, res) => {
    redirected++;
    res.writeHead(307, { location: `${stack.baseURL}${req.url!.replace(/^\/v1/, '')}` }).end();
  });
  const base: ChatPortkeyInput = { model: 'gpt-4o-mini', apiKey: PORTKEY_KEY, baseURL: stack.baseURL, ...stack.providerOptions };
  models = {
    default: new ChatPortkey(base),
    timeout: new ChatPortkey({ ...base, timeout: 1000 }),
    noRoute: new ChatPortkey({ model: 'gpt-4o-mini', apiKey: PORTKEY_KEY, baseURL: stack.baseURL }),
    down: new ChatPortkey({ ...base, baseURL: downURL }),
    redirected: new ChatPortkey({ ...base, baseURL: `${redirector.url}/v1` }),
  };
  const server = express();
  server.use(express.json());
  server.use(portkeyMiddleware());
  server.post('/chat', async (req, res) => {
    const started = performance.now();
    try {
      const reply = await models[req.body.model ?? 'default']!.invoke(req.body.q, req.body.portkey ? { portkey: req.body.portkey } : {});
      res.json({ answer: reply.content });
    } catch (err: any) {
      err.elapsedMs = performance.now() - started;
      throw err;
    }
  });
  server.post('/stream', async (req, res) => {
    const started = performance.now();
    try {
      const stream = await models[req.body.model ?? 'default']!.stream(req.body.q);
      for await (const chunk of stream) {
        if (!res.headersSent) res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`data: ${JSON.stringify(chunk.content)}\n\n`);
      }
      res.end('event: done\ndata: {}\n\n');
    } catch (err: any) {
      err.elapsedMs = performance.now() - started;
      throw err;
    }
  });
  // The README's recommended error handler, reporting more than a real app would, for the test.
  server.use((err: any, req: Request, res: Response, _next: NextFunction) => {
    const error = {
      name: err.constructor.name,
      code: err.code,
      status: err.status,
      message: err.message,
      stack: err.stack,
      traceId: err.traceId,
      elapsedMs: err.elapsedMs,
    };
    if (res.headersSent) {
      res.end(`event: error\ndata: ${JSON.stringify(error)}\n\n`);
      return;
    }
    res.status(err.code === 'TIMEOUT' ? 504 : 502).json({ error, traceId: req.portkey?.traceId });
  });
  app = await serveOnLoopback(server);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await app?.close();
  await redirector?.close();
});
beforeEach(() => {
  redirected = 0;
});

async function call(path: '/chat' | '/stream', body: Record<string, unknown>, reply?: StubReply): Promise<Reported> {
  if (reply) stack.stub.script(() => reply);
  const res = await fetch(`${app.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const traceId = res.headers.get('x-portkey-trace-id')!;
  const text = await res.text();
  if (path === '/stream' && res.headers.get('content-type')?.startsWith('text/event-stream')) {
    const events = text.split('\n\n').filter(Boolean);
    const errorEvent = events.find((e) => e.startsWith('event: error'));
    const streamed = events
      .filter((e) => e.startsWith('data: '))
      .map((e) => JSON.parse(e.slice(6)))
      .join('');
    return { status: res.status, streamed, traceId, error: errorEvent ? JSON.parse(errorEvent.split('data: ')[1]!) : undefined };
  }
  return { status: res.status, traceId, ...JSON.parse(text) };
}

/** What every described error must be: trace ID once in message and stack, no key anywhere. */
function expectWellDescribed(reported: Reported) {
  const { error, traceId } = reported;
  expect(error, 'an error was reported').toBeDefined();
  const suffix = `[Portkey trace ID: ${traceId}]`;
  expect(error!.message.endsWith(suffix)).toBe(true);
  expect(error!.message.split(suffix)).toHaveLength(2);
  expect(error!.stack.split(suffix)).toHaveLength(2);
  expect(error!.traceId).toBe(traceId);
  for (const secret of [PORTKEY_KEY, 'sk-stub-provider-key']) expect(JSON.stringify(error)).not.toContain(secret);
}

describe('fault matrix (default retries and timeouts)', () => {
  it('gateway not running: APIConnectionError naming the gateway URL, retried twice, < 5 s', async () => {
    const r = await call('/chat', { q: 'hi', model: 'down' });
    expect(r.status).toBe(502);
    expect(r.error!.name).toBe('APIConnectionError');
    expect(r.error!.message.startsWith(`Cannot reach the Portkey gateway at ${downURL} (ECONNREFUSED)`)).toBe(true);
    expectWellDescribed(r);
    expect(r.error!.elapsedMs).toBeGreaterThan(700); // 0.5 s + 1 s of backoff, ±25%
    expect(r.error!.elapsedMs).toBeLessThan(5000);
  });

  it('a redirect (307 to the real gateway) is not followed: GATEWAY_ERROR saying so, not retried, the keys never sent on', async () => {
    for (const path of ['/chat', '/stream'] as const) {
      redirected = 0;
      const r = await call(path, { q: 'hi', model: 'redirected' });
      expect(r.error!.name).toBe('PortkeyContextError');
      expect(r.error!.code).toBe('GATEWAY_ERROR');
      const opening = `The Portkey gateway at ${redirector.url}/v1/chat/completions answered with a redirect. Gateway calls never follow one`;
      expect(r.error!.message.slice(0, opening.length)).toBe(opening);
      expectWellDescribed(r);
      expect(redirected).toBe(1);
    }
    // Followed, the 307 would have re-sent the call, its Portkey key and provider key included, to the gateway.
    expect(stack.gatewayRequests).toHaveLength(0);
  });

  it('gateway 400: the gateway message, not retried', async () => {
    const r = await call('/chat', { q: 'hi', model: 'noRoute' });
    expect(r.error!.name).toBe('BadRequestError');
    expect(r.error!.status).toBe(400);
    expect(r.error!.message).toMatch(/^400 Portkey gateway: .+/);
    expectWellDescribed(r);
    expect(stack.gatewayRequests).toHaveLength(1);
    expect(r.error!.elapsedMs).toBeLessThan(2000);
  });

  it('upstream 500: the upstream message, two retries, < 5 s', async () => {
    const r = await call('/chat', { q: 'hi' }, { status: 500, json: { error: { message: 'the model fell over', type: 'server_error' } } });
    expect(r.error!.name).toBe('InternalServerError');
    expect(r.error!.status).toBe(500);
    expect(r.error!.message).toContain('the model fell over');
    expectWellDescribed(r);
    expect(stack.stub.requests).toHaveLength(3);
    expect(r.error!.elapsedMs).toBeLessThan(5000);
  });

  it('upstream 429 with Retry-After: 1: waits as asked, two retries, < 6 s', async () => {
    const r = await call('/chat', { q: 'hi' }, { status: 429, headers: { 'retry-after': '1' }, json: { error: { message: 'slow down', type: 'rate_limit' } } });
    expect(r.error!.name).toBe('RateLimitError');
    expect(r.error!.message).toContain('slow down');
    expectWellDescribed(r);
    expect(stack.stub.requests).toHaveLength(3);
    expect(r.error!.elapsedMs).toBeGreaterThan(1500);
    expect(r.error!.elapsedMs).toBeLessThan(6000);
  });

  it('upstream 401 is not retried', async () => {
    const r = await call('/chat', { q: 'hi' }, { status: 401, json: { error: { message: 'Incorrect API key provided', type: 'auth' } } });
    expect(r.error!.status).toBe(401);
    expectWellDescribed(r);
    expect(stack.stub.requests).toHaveLength(1);
  });

  it('hung upstream with timeout: 1000: a TIMEOUT error saying what timed out, not retried, ~1 s', async () => {
    const r = await call('/chat', { q: 'hi', model: 'timeout' }, { hang: true });
    expect(r.status).toBe(504);
    expect(r.error!.name).toBe('PortkeyContextError');
    expect(r.error!.code).toBe('TIMEOUT');
    expect(r.error!.message).toMatch(/^No answer from the Portkey gateway at .+ within 1000 ms/);
    expectWellDescribed(r);
    expect(stack.stub.requests).toHaveLength(1);
    expect(r.error!.elapsedMs).toBeGreaterThan(900);
    expect(r.error!.elapsedMs).toBeLessThan(3000);
  });

  it('stream cut after 2 chunks: the chunks stay delivered, then STREAM_INCOMPLETE', async () => {
    const r = await call('/stream', { q: 'a long answer that will be cut' }, { cutAfterChunks: 3 });
    expect(r.streamed!.length).toBeGreaterThan(0);
    expect('echo: a long answer that will be cut'.startsWith(r.streamed!)).toBe(true);
    expect(r.error!.code).toBe('STREAM_INCOMPLETE');
    expect(r.error!.message).toMatch(/ended after \d+ chunks? without a finish reason or \[DONE\]/);
    expectWellDescribed(r);
  });

  it('empty SSE stream: STREAM_INCOMPLETE, nothing streamed', async () => {
    const r = await call('/stream', { q: 'hi' }, { raw: { body: 'data: [DONE]\n\n', contentType: 'text/event-stream' } });
    expect(r.status).toBe(502);
    expect(r.error!.code).toBe('STREAM_INCOMPLETE');
    expect(r.error!.message).toMatch(/ended before any content arrived/);
    expectWellDescribed(r);
  });

  it('malformed SSE: MALFORMED_RESPONSE, not a bare SyntaxError', async () => {
    const r = await call('/stream', { q: 'hi' }, { raw: { body: 'data: {not json\n\n', contentType: 'text/event-stream' } });
    expect(r.error!.name).toBe('PortkeyContextError');
    expect(r.error!.code).toBe('MALFORMED_RESPONSE');
    expectWellDescribed(r);
  });

  it('empty 200 JSON: MALFORMED_RESPONSE (no choices)', async () => {
    const r = await call('/chat', { q: 'hi' }, { raw: { body: '{}' } });
    expect(r.error!.code).toBe('MALFORMED_RESPONSE');
    expectWellDescribed(r);
  });

  it('malformed JSON: a described error, not a bare SyntaxError', async () => {
    const r = await call('/chat', { q: 'hi' }, { raw: { body: '{"choices": [' } });
    expect(r.error).toBeDefined();
    expect(r.error!.name).not.toBe('SyntaxError');
    expectWellDescribed(r);
  });

  it('~60 metadata entries of 128 characters: sent within the budget, the call succeeds (no 431)', async () => {
    const metadata = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`k${i}`, 'x'.repeat(128)]));
    const r = await call('/chat', { q: 'hi', portkey: { metadata: { ...metadata, _user: 'alice' } } });
    expect(r.status).toBe(200);
    const sent = stack.gatewayRequests[0]!.headers['x-portkey-metadata'] as string;
    expect(sent.length).toBeLessThanOrEqual(4096);
    expect(JSON.parse(sent)._user).toBe('alice');
  });

  it('431 from the gateway (a 20 KB config): says the headers are too large, not retried', async () => {
    const config = { provider: 'openai', custom_host: stack.stub.baseURL, api_key: 'sk-stub-provider-key', padding: 'p'.repeat(20_000) };
    const r = await call('/chat', { q: 'hi', portkey: { config } });
    expect(r.error!.status).toBe(431);
    expect(r.error!.message).toMatch(/^431 The Portkey gateway refused the call: its request headers are too large/);
    expectWellDescribed(r);
    expect(stack.gatewayRequests).toHaveLength(1);
  });

  it('after every fault the server still serves, and nothing was left unhandled', async () => {
    const r = await call('/chat', { q: 'still here' });
    expect(r).toMatchObject({ status: 200, answer: 'echo: still here' });
    expect(unhandled).toEqual([]);
  });
});
