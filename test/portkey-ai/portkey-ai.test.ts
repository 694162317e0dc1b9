/**
 * Portkey's own SDK (portkey-ai 3.x) per request, through createPortkeyClient(), in a real Express
 * app and through the real Portkey gateway: what reached the wire (the recording proxy in front of
 * the gateway, the stub LLM behind it). And the leak of the naive way (one shared `new Portkey()`,
 * per-call params), shown on the same wire, so these tests can see a leak when there is one.
 */
import { inspect } from 'node:util';
import express, { type ErrorRequestHandler } from 'express';
import { Portkey } from 'portkey-ai';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { withPortkeyOverrides } from 'portkey-context';
import { portkeyMiddleware } from 'portkey-context/express';
import { createPortkeyClient, portkeyResponseMetadata } from 'portkey-context/portkey-ai';
import { openRequest, type RecordedGatewayRequest, serveOnLoopback, waitUntil } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';
import { expectFiftyUsersAttributed } from '../harness/fifty-users.js';

const PORTKEY_KEY = 'pk-portkey-ai-test-key';
const PROVIDER_KEY = 'sk-stub-provider-key';

const stack = useGatewayStack();
let app: { url: string; close(): Promise<void> };
const outcomes: { name: string; error?: any }[] = [];

const userText = (sent: { body: any }): string => sent.body?.messages?.find((m: any) => m.role === 'user')?.content ?? '';
const metadataOf = (sent: RecordedGatewayRequest) => JSON.parse(String(sent.headers['x-portkey-metadata'] ?? '{}'));
const ask = (q: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: q }] });

beforeAll(async () => {
  const routing = { provider: 'openai', customHost: stack.stub.baseURL, Authorization: `Bearer ${PROVIDER_KEY}` };
  // Our way: one client for the whole app, made by createPortkeyClient.
  const portkey = createPortkeyClient(Portkey, { apiKey: PORTKEY_KEY, baseURL: stack.baseURL, ...routing });
  const configRouted = createPortkeyClient(Portkey, {
    apiKey: PORTKEY_KEY,
    baseURL: stack.baseURL,
    config: { provider: 'openai', custom_host: stack.stub.baseURL, api_key: 'sk-config-provider-key' },
  });
  const unrouted = createPortkeyClient(Portkey, { apiKey: PORTKEY_KEY, baseURL: stack.baseURL });
  // The naive way: one shared portkey-ai client, trace and user given per call as its docs show.
  const naive = new Portkey({ apiKey: PORTKEY_KEY, baseURL: stack.baseURL, ...routing });

  const server = express();
  server.use(portkeyMiddleware());
  server.use(express.json());
  server.use((req, _res, next) => {
    Object.assign(req, { user: { id: req.get('x-user') } });
    next();
  });
  server.get('/chat', async (req, res) => {
    const completion: any = await portkey.chat.completions.create(ask(String(req.query.q)));
    res.json({ text: completion.choices[0].message.content, traceId: portkeyResponseMetadata(completion)?.traceId });
  });
  server.get('/stream', async (req, res) => {
    const stream: any = await portkey.chat.completions.create({ ...ask(String(req.query.q)), stream: true });
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for await (const chunk of stream) res.write(`data: ${JSON.stringify(chunk.choices[0]?.delta?.content ?? '')}\n\n`);
    res.end('event: done\ndata: {}\n\n');
  });
  server.get('/helper-stream', async (req, res) => {
    // chat.completions.stream() is sent by portkey-ai's bundled openai SDK, not by the client itself.
    const stream = await portkey.chat.completions.stream(ask(String(req.query.q)) as any);
    const completion = await stream.finalChatCompletion();
    res.json({ text: completion.choices[0]!.message.content });
  });
  server.get('/two-calls', async (req, res) => {
    const q = String(req.query.q);
    const first: any = await withPortkeyOverrides({ metadata: { feature: 'summary' }, cacheForceRefresh: true }, () =>
      portkey.chat.completions.create(ask(`${q} first`)),
    );
    const second: any = await portkey.chat.completions.create(ask(`${q} second`));
    res.json({ first: first.choices[0].message.content, second: second.choices[0].message.content });
  });
  server.get('/per-call-params', async (req, res) => {
    await portkey.chat.completions.create(ask(String(req.query.q)), { traceID: 'set-per-call', metadata: { _user: 'someone' } } as any);
    res.json({});
  });
  server.get('/naive', async (req, res) => {
    const params = req.query.params ? { traceID: req.get('x-request-id'), metadata: { _user: req.get('x-user') } } : undefined;
    const completion: any = await naive.chat.completions.create(ask(String(req.query.q)), params as any);
    res.json({ text: completion.choices[0].message.content });
  });
  server.get('/config-routed', async (req, res) => {
    const completion: any = await configRouted.chat.completions.create(ask(String(req.query.q)));
    res.json({ text: completion.choices[0].message.content });
  });
  server.get('/unrouted', async (req, res) => {
    await unrouted.chat.completions.create(ask(String(req.query.q)));
    res.json({});
  });
  server.post('/slow', async (req, res) => {
    try {
      await portkey.chat.completions.create(ask(String(req.body.q)));
      outcomes.push({ name: 'answered' });
      res.json({});
    } catch (error: any) {
      outcomes.push({ name: error.constructor.name, error });
      if (!res.headersSent && !res.destroyed) res.status(502).end();
    }
  });
  server.post('/slow-stream', async (req, res) => {
    try {
      const stream: any = await portkey.chat.completions.create({ ...ask(String(req.body.q)), stream: true });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for await (const chunk of stream) res.write(`data: ${JSON.stringify(chunk.choices[0]?.delta?.content ?? '')}\n\n`);
      outcomes.push({ name: 'streamed' });
      res.end();
    } catch (error: any) {
      outcomes.push({ name: error.constructor.name, error });
      res.end();
    }
  });
  const recordError: ErrorRequestHandler = (error, _req, res, _next) => {
    outcomes.push({ name: error.constructor.name, error });
    res.status(502).json({ message: error.message });
  };
  server.use(recordError);
  app = await serveOnLoopback(server);
});
afterAll(async () => {
  await app?.close();
});
beforeEach(() => {
  outcomes.length = 0;
});

describe('createPortkeyClient(Portkey): portkey-ai per request (real gateway)', () => {
  it('50 overlapping requests from 50 users, invoke and stream: every gateway request carries its own trace ID and user', async () => {
    await expectFiftyUsersAttributed(app.url, stack, { portkeyKey: PORTKEY_KEY, providerKey: PROVIDER_KEY });
  });

  it("the paths portkey-ai sends through its bundled openai SDK carry the request's trace ID and user too", async () => {
    const responses = await Promise.all(
      [1, 2].map((i) => request(app.url).get('/helper-stream').query({ q: `helper ${i}` }).set('x-request-id', `helper-${i}`).set('x-user', `user-${i}`)),
    );
    expect(responses.map((r) => r.body)).toEqual([{ text: 'echo: helper 1' }, { text: 'echo: helper 2' }]);
    expect(stack.gatewayRequests).toHaveLength(2);
    for (const sent of stack.gatewayRequests) {
      const i = /^helper (\d)$/.exec(userText(sent))![1];
      expect(sent.headers['x-portkey-trace-id']).toBe(`helper-${i}`);
      expect(metadataOf(sent)._user).toBe(`user-${i}`);
    }
  });

  it('per-call overrides (withPortkeyOverrides) reach that call only: 10 overlapping requests, two calls each', async () => {
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => request(app.url).get('/two-calls').query({ q: `user-${i}` }).set('x-request-id', `two-${i}`).set('x-user', `user-${i}`)),
    );
    for (const res of responses) expect(res.status).toBe(200);
    expect(stack.gatewayRequests).toHaveLength(20);
    for (const sent of stack.gatewayRequests) {
      const [, i, which] = /^user-(\d+) (first|second)$/.exec(userText(sent))!;
      expect(sent.headers['x-portkey-trace-id']).toBe(`two-${i}`);
      expect(metadataOf(sent)._user).toBe(`user-${i}`);
      expect(metadataOf(sent).feature).toBe(which === 'first' ? 'summary' : undefined);
      expect(sent.headers['x-portkey-cache-force-refresh']).toBe(which === 'first' ? 'true' : undefined);
    }
  });

  it("portkey-ai's per-call params, which it would write into the shared client, are refused; the next call is clean", async () => {
    const refused = await request(app.url).get('/per-call-params').query({ q: 'mine' }).set('x-request-id', 'params-1').set('x-user', 'u-1');
    expect(refused.status).toBe(502);
    expect(outcomes[0]!.error).toMatchObject({ name: 'PortkeyContextError', code: 'INVALID_OPTION', message: expect.stringMatching(/withPortkeyOverrides/) });
    expect(stack.gatewayRequests).toHaveLength(0); // refused before sending
    const next = await request(app.url).get('/chat').query({ q: 'next' }).set('x-request-id', 'params-2').set('x-user', 'u-2');
    expect(next.status).toBe(200);
    expect(stack.gatewayRequests[0]!.headers['x-portkey-trace-id']).toBe('params-2');
    expect(metadataOf(stack.gatewayRequests[0]!)._user).toBe('u-2');
  });

  it('the naive way leaks (shown on the same wire): a shared new Portkey() sends the previous call\'s trace ID and user', async () => {
    await request(app.url).get('/naive').query({ q: 'first', params: '1' }).set('x-request-id', 'naive-a').set('x-user', 'user-a').expect(200);
    await request(app.url).get('/naive').query({ q: 'second' }).set('x-request-id', 'naive-b').set('x-user', 'user-b').expect(200);
    const [first, second] = stack.gatewayRequests;
    expect(first!.headers['x-portkey-trace-id']).toBe('naive-a');
    expect(second!.headers['x-portkey-trace-id']).toBe('naive-a'); // user-b's call, with user-a's trace…
    expect(metadataOf(second!)._user).toBe('user-a'); // …and user-a as its user
  });

  it('no Authorization reaches the gateway without provider auth (config routing); the config key reaches the provider only', async () => {
    const res = await request(app.url).get('/config-routed').query({ q: 'routed by config' }).set('x-request-id', 'cfg-1').set('x-user', 'u-cfg');
    expect(res.body).toEqual({ text: 'echo: routed by config' });
    expect(stack.gatewayRequests[0]!.headers.authorization).toBeUndefined();
    expect(stack.gatewayRequests[0]!.headers['x-portkey-trace-id']).toBe('cfg-1');
    expect(stack.stub.requests[0]!.headers.authorization).toBe('Bearer sk-config-provider-key');
  });
});

describe("errors keep the gateway's message and the trace ID, and show no key", () => {
  it('the provider refuses (401, its message echoing the key): message and trace ID kept, key redacted', async () => {
    stack.stub.script((_body, req) => ({ status: 401, json: { error: { message: `Incorrect API key provided: ${req.headers.authorization}` } } }));
    const res = await request(app.url).get('/chat').query({ q: 'bad key' }).set('x-request-id', 'err-401').set('x-user', 'u-err');
    expect(res.status).toBe(502);
    const { name, error } = outcomes[0]!;
    expect(name).toBe('AuthenticationError');
    expect(error.status).toBe(401);
    expect(error.message).toContain('Incorrect API key provided');
    expect(error.message).toContain('[Portkey trace ID: err-401]');
    expect(portkeyResponseMetadata(error)?.traceId).toBe('err-401');
    expect(stack.stub.requests[0]!.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    const shown = inspect(error, { depth: 10 });
    expect(shown).not.toContain(PROVIDER_KEY);
    expect(shown).not.toContain(PORTKEY_KEY);
  });

  it('the gateway refuses an unrouted call (400): its own message and the trace ID', async () => {
    const res = await request(app.url).get('/unrouted').query({ q: 'nowhere' }).set('x-request-id', 'err-400').set('x-user', 'u-err');
    expect(res.status).toBe(502);
    const { name, error } = outcomes[0]!;
    expect(name).toBe('BadRequestError');
    expect(error.message).toMatch(/Portkey gateway: .*provider.*\[Portkey trace ID: err-400\]/i);
    expect(stack.gatewayRequests[0]!.headers.authorization).toBeUndefined();
    expect(inspect(error, { depth: 10 })).not.toContain(PORTKEY_KEY);
  });
});

describe('a client that disconnects aborts its gateway request', () => {
  it('invoke: the gateway request is closed within 100 ms and nothing more is sent', async () => {
    stack.stub.script(() => ({ delayMs: 5000 }));
    const caller = openRequest(`${app.url}/slow`, { q: 'slow' });
    await waitUntil(() => stack.stub.requests.length === 1);
    const leftAt = caller.leave();
    await waitUntil(() => stack.gatewayRequests[0]?.closedAt !== undefined, 2000);
    expect(stack.gatewayRequests[0]!.clientAborted).toBe(true);
    expect(stack.gatewayRequests[0]!.closedAt! - leftAt).toBeLessThan(100);
    await waitUntil(() => outcomes.length === 1);
    expect(outcomes[0]!.error.cause).toMatchObject({ code: 'CLIENT_DISCONNECTED' }); // portkey-ai wraps it
    await new Promise((r) => setTimeout(r, 300));
    expect(stack.gatewayRequests).toHaveLength(1); // portkey-ai's own retry is not sent
  });

  it('stream: a client leaving mid-stream closes the gateway stream within 100 ms, and the stream throws CLIENT_DISCONNECTED', async () => {
    stack.stub.script(() => ({ chunkDelayMs: 300, content: 'a slow streamed answer that takes seconds' }));
    const caller = openRequest(`${app.url}/slow-stream`, { q: 'slow stream' });
    await caller.firstData;
    await waitUntil(() => stack.gatewayRequests[0]?.response !== undefined);
    const leftAt = caller.leave();
    await waitUntil(() => stack.gatewayRequests[0]?.closedAt !== undefined, 2000);
    expect(stack.gatewayRequests[0]!.clientAborted).toBe(true);
    expect(stack.gatewayRequests[0]!.closedAt! - leftAt).toBeLessThan(100);
    await waitUntil(() => outcomes.length === 1);
    expect(outcomes[0]!.error).toMatchObject({ code: 'CLIENT_DISCONNECTED' });
  });
});
