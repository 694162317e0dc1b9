/**
 * `createPortkeyOpenAI()` in a real Express app, through the real Portkey gateway: what reached the
 * wire (the recording proxy in front of the gateway, and the stub LLM behind it) for overlapping
 * requests, per-call overrides, provider auth, errors and clients that disconnect.
 */
import { inspect } from 'node:util';
import express, { type ErrorRequestHandler } from 'express';
import type OpenAI from 'openai';
import { VERSION as OPENAI_VERSION } from 'openai/version';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runWithPortkeyContext } from 'portkey-context';
import { portkeyMiddleware } from 'portkey-context/express';
import { createPortkeyOpenAI, portkeyCall, portkeyResponseMetadata } from 'portkey-context/openai';
import { openRequest, type RecordedGatewayRequest, serveOnLoopback, waitUntil } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';
import { expectFiftyUsersAttributed } from '../harness/fifty-users.js';

const PORTKEY_KEY = 'pk-openai-test-key';
const PROVIDER_KEY = 'sk-stub-provider-key';
const PLACEHOLDER = 'portkey-context-sends-no-provider-key';

const stack = useGatewayStack();
let app: { url: string; close(): Promise<void> };
let client: OpenAI;
/** What each route ended with: 'answered' / 'streamed', or the error's name. */
const outcomes: { name: string; error?: any }[] = [];

const userText = (sent: { body: any }): string => sent.body?.messages?.find((m: any) => m.role === 'user')?.content ?? '';
const metadataOf = (sent: RecordedGatewayRequest) => JSON.parse(String(sent.headers['x-portkey-metadata']));
const ask = (q: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: q }] });

beforeAll(async () => {
  // One client for the whole app, as users keep it; provider auth routes to the stub.
  client = createPortkeyOpenAI({ apiKey: PORTKEY_KEY, baseURL: stack.baseURL, ...stack.providerOptions });
  // Routing from a config that carries the provider key itself: no provider auth of the client's own.
  const configRouted = createPortkeyOpenAI({
    apiKey: PORTKEY_KEY,
    baseURL: stack.baseURL,
    config: { provider: 'openai', custom_host: stack.stub.baseURL, api_key: 'sk-config-provider-key' },
  });
  const unrouted = createPortkeyOpenAI({ apiKey: PORTKEY_KEY, baseURL: stack.baseURL });

  const server = express();
  server.use(portkeyMiddleware());
  server.use(express.json());
  server.use((req, _res, next) => {
    Object.assign(req, { user: { id: req.get('x-user') } }); // the app's auth, after the middleware
    next();
  });
  server.get('/chat', async (req, res) => {
    const { data, response } = await client.chat.completions.create(ask(String(req.query.q))).withResponse();
    res.json({ text: data.choices[0]!.message.content, traceId: portkeyResponseMetadata(response)?.traceId });
  });
  server.get('/stream', async (req, res) => {
    const stream = await client.chat.completions.create({ ...ask(String(req.query.q)), stream: true });
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for await (const chunk of stream) res.write(`data: ${JSON.stringify(chunk.choices[0]?.delta?.content ?? '')}\n\n`);
    res.end('event: done\ndata: {}\n\n');
  });
  server.get('/two-calls', async (req, res) => {
    const q = String(req.query.q);
    const overrides = { metadata: { feature: 'summary' }, cacheForceRefresh: true, spanName: 'summarize' };
    const first = await client.chat.completions.create(ask(`${q} first`), portkeyCall(overrides, { timeout: 20_000 }));
    const second = await client.chat.completions.create(ask(`${q} second`));
    res.json({ first: first.choices[0]!.message.content, second: second.choices[0]!.message.content });
  });
  server.get('/other-paths', async (req, res) => {
    const q = String(req.query.q);
    const helper = await client.chat.completions.stream(ask(`${q} helper`)).finalChatCompletion(); // the SDK's stream() helper
    const responses = await client.responses.create({ model: 'gpt-4o-mini', input: `${q} responses` }).then(
      () => 'answered',
      (error) => error.status, // the stub has no /responses: what reached the gateway is what counts
    );
    res.json({ helper: helper.choices[0]!.message.content, responses });
  });
  server.get('/config-routed', async (req, res) => {
    const completion = await configRouted.chat.completions.create(ask(String(req.query.q)));
    res.json({ text: completion.choices[0]!.message.content });
  });
  server.get('/unrouted', async (req, res) => {
    await unrouted.chat.completions.create(ask(String(req.query.q)));
    res.json({});
  });
  server.post('/slow', async (req, res) => {
    try {
      const completion = await client.chat.completions.create(ask(String(req.body.q)));
      outcomes.push({ name: 'answered' });
      res.json({ text: completion.choices[0]!.message.content });
    } catch (error: any) {
      outcomes.push({ name: error.name, error });
      if (!res.headersSent && !res.destroyed) res.status(502).end();
    }
  });
  server.post('/slow-stream', async (req, res) => {
    try {
      const stream = await client.chat.completions.create({ ...ask(String(req.body.q)), stream: true });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for await (const chunk of stream) res.write(`data: ${JSON.stringify(chunk.choices[0]?.delta?.content ?? '')}\n\n`);
      outcomes.push({ name: 'streamed' });
      res.end();
    } catch (error: any) {
      outcomes.push({ name: error.name, error });
      res.end();
    }
  });
  const recordError: ErrorRequestHandler = (error, _req, res, _next) => {
    outcomes.push({ name: error.name, error });
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

describe('createPortkeyOpenAI() in an Express app (real gateway)', () => {
  it('50 overlapping requests from 50 users, invoke and stream: every gateway request carries its own trace ID and user', async () => {
    await expectFiftyUsersAttributed(app.url, stack, { portkeyKey: PORTKEY_KEY, providerKey: PROVIDER_KEY });
  });

  it("per-call overrides (portkeyCall) reach that call only: 10 overlapping requests, two calls each", async () => {
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        request(app.url).get('/two-calls').query({ q: `user-${i}` }).set('x-request-id', `two-${i}`).set('x-user', `user-${i}`),
      ),
    );
    for (const res of responses) expect(res.status).toBe(200);
    expect(stack.gatewayRequests).toHaveLength(20);
    for (const sent of stack.gatewayRequests) {
      const [, i, which] = /^user-(\d+) (first|second)$/.exec(userText(sent))!;
      expect(sent.headers['x-portkey-trace-id']).toBe(`two-${i}`);
      const metadata = metadataOf(sent);
      expect(metadata._user).toBe(`user-${i}`);
      if (which === 'first') {
        expect(metadata.feature).toBe('summary');
        expect(sent.headers['x-portkey-cache-force-refresh']).toBe('true');
        expect(sent.headers['x-portkey-span-name']).toBe('summarize');
      } else {
        expect(metadata.feature).toBeUndefined();
        expect(sent.headers['x-portkey-cache-force-refresh']).toBeUndefined();
        expect(sent.headers['x-portkey-span-name']).toBeUndefined();
      }
    }
  });

  it('per-call overrides reach every attempt of their call (SDK retries), and a withOptions() client keeps the Portkey fetch', async () => {
    let attempts = 0;
    stack.stub.script(() => (++attempts === 1 ? { status: 503, headers: { 'retry-after-ms': '10' } } : undefined));
    const retrying = client.withOptions({ maxRetries: 1 });
    const completion = await runWithPortkeyContext({ traceId: 'retried-call', metadata: { _user: 'u-retry' } }, () =>
      retrying.chat.completions.create(ask('retry me'), portkeyCall({ metadata: { feature: 'retry' } })),
    );
    expect(completion.choices[0]!.message.content).toBe('echo: retry me');
    expect(stack.gatewayRequests).toHaveLength(2);
    for (const sent of stack.gatewayRequests) {
      expect(sent.headers['x-portkey-trace-id']).toBe('retried-call');
      expect(metadataOf(sent)).toMatchObject({ _user: 'u-retry', feature: 'retry' });
    }
    // A withOptions({ fetch }) that would drop the Portkey headers is refused before anything is sent.
    const unwrapped = client.withOptions({ fetch: globalThis.fetch });
    await expect(runWithPortkeyContext({ traceId: 'never-sent' }, () => unwrapped.chat.completions.create(ask('x')))).rejects.toMatchObject({
      code: 'INVALID_OPTION',
    });
    expect(stack.gatewayRequests).toHaveLength(2);
  });

  it("the SDK's other paths (the stream() helper, the Responses API) carry the request's trace ID and user too", async () => {
    const res = await request(app.url).get('/other-paths').query({ q: 'paths' }).set('x-request-id', 'paths-1').set('x-user', 'u-paths');
    expect(res.body.helper).toBe('echo: paths helper');
    expect(stack.gatewayRequests.map((r) => r.path)).toEqual(['/v1/chat/completions', '/v1/responses']);
    for (const sent of stack.gatewayRequests) {
      expect(sent.headers['x-portkey-trace-id']).toBe('paths-1');
      expect(metadataOf(sent)._user).toBe('u-paths');
    }
  });

  it('no Authorization reaches the gateway without provider auth (config routing); the config key reaches the provider only', async () => {
    const res = await request(app.url).get('/config-routed').query({ q: 'routed by config' }).set('x-request-id', 'cfg-1').set('x-user', 'u-cfg');
    expect(res.body).toEqual({ text: 'echo: routed by config' });
    const [sent] = stack.gatewayRequests;
    expect(sent!.headers.authorization).toBeUndefined();
    expect(sent!.headers['x-portkey-trace-id']).toBe('cfg-1');
    // The SDK's self-description is not sent (the gateway neither reads nor forwards it); its User-Agent is.
    expect(Object.keys(sent!.headers).filter((name) => name.startsWith('x-stainless-'))).toEqual([]);
    expect(sent!.headers['user-agent']).toBe(`PortkeyOpenAI/JS ${OPENAI_VERSION}`);
    expect(stack.stub.requests[0]!.headers.authorization).toBe('Bearer sk-config-provider-key');
    for (const r of [...stack.gatewayRequests, ...stack.stub.requests]) expect(JSON.stringify(r.headers)).not.toContain(PLACEHOLDER);
  });
});

describe('errors keep the gateway\'s message and the trace ID, and show no key', () => {
  it('the provider refuses (401, its message echoing the key): AuthenticationError, provider message, trace ID, key redacted', async () => {
    stack.stub.script((_body, req) => ({ status: 401, json: { error: { message: `Incorrect API key provided: ${req.headers.authorization}`, type: 'invalid_request_error' } } }));
    const res = await request(app.url).get('/chat').query({ q: 'bad key' }).set('x-request-id', 'err-401').set('x-user', 'u-err');
    expect(res.status).toBe(502);
    const { error } = outcomes[0]!;
    expect(error.constructor.name).toBe('AuthenticationError');
    expect(error.status).toBe(401);
    expect(error.message).toMatch(/^401 .*Incorrect API key provided: .*\[Portkey trace ID: err-401\]$/);
    expect(portkeyResponseMetadata(error)).toMatchObject({ traceId: 'err-401', provider: 'openai' });
    expect(stack.stub.requests[0]!.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`); // the key did reach the provider…
    const shown = inspect(error, { depth: 10 });
    expect(shown).not.toContain(PROVIDER_KEY); // …and is in no part of the error
    expect(shown).not.toContain(PORTKEY_KEY);
    expect(stack.gatewayRequests).toHaveLength(1); // 401 is not retried
  });

  it('the gateway refuses an unrouted call (400): BadRequestError with the gateway\'s own message and the trace ID', async () => {
    const res = await request(app.url).get('/unrouted').query({ q: 'nowhere' }).set('x-request-id', 'err-400').set('x-user', 'u-err');
    expect(res.status).toBe(502);
    const { error } = outcomes[0]!;
    expect(error.constructor.name).toBe('BadRequestError');
    expect(error.message).toMatch(/^400 Portkey gateway: .*provider.*\[Portkey trace ID: err-400\]$/i);
    expect(error.message).not.toContain('(no body)');
    const [sent] = stack.gatewayRequests;
    expect(sent!.headers.authorization).toBeUndefined(); // no provider auth: no Authorization at all
    expect(sent!.headers['x-portkey-trace-id']).toBe('err-400');
    expect(inspect(error, { depth: 10 })).not.toContain(PORTKEY_KEY);
  });

  it('a redirect is not followed: APIConnectionError caused by GATEWAY_ERROR, the keys never sent on', async () => {
    const redirects: string[] = [];
    const redirector = await serveOnLoopback((req, res) => {
      redirects.push(req.url!);
      res.writeHead(308, { location: `${stack.baseURL}${req.url!.replace(/^\/v1/, '')}` }).end();
    });
    try {
      const redirected = createPortkeyOpenAI({ apiKey: PORTKEY_KEY, baseURL: `${redirector.url}/v1`, ...stack.providerOptions, configuration: { maxRetries: 0 } });
      const error: any = await runWithPortkeyContext({ traceId: 'trace-redirect' }, () => redirected.chat.completions.create(ask('elsewhere'))).catch((e) => e);
      expect(error.constructor.name).toBe('APIConnectionError');
      expect(error.cause).toMatchObject({ name: 'PortkeyContextError', code: 'GATEWAY_ERROR', traceId: 'trace-redirect' });
      expect(error.cause.message).toBe(
        `The Portkey gateway at ${redirector.url}/v1/chat/completions answered with a redirect. Gateway calls never follow one: it would carry ` +
          "the call's Portkey keys to another address. Set baseURL (or PORTKEY_BASE_URL) to the address it redirects to, the gateway's own. [Portkey trace ID: trace-redirect]",
      );
      expect(redirects).toEqual(['/v1/chat/completions']);
      expect(stack.gatewayRequests).toHaveLength(0); // followed, the 308 would have re-sent both keys to it
      expect(inspect(error, { depth: 10 })).not.toContain(PORTKEY_KEY);
    } finally {
      await redirector.close();
    }
  });
});

describe('a client that disconnects aborts its gateway request', () => {
  it('invoke: the gateway request is closed within 100 ms, the SDK throws APIUserAbortError (CLIENT_DISCONNECTED) and does not retry', async () => {
    stack.stub.script(() => ({ delayMs: 5000 }));
    const caller = openRequest(`${app.url}/slow`, { q: 'slow' });
    await waitUntil(() => stack.stub.requests.length === 1);
    const leftAt = caller.leave();
    await waitUntil(() => stack.gatewayRequests[0]?.closedAt !== undefined, 2000);
    const call = stack.gatewayRequests[0]!;
    expect(call.clientAborted).toBe(true);
    expect(call.closedAt! - leftAt).toBeLessThan(100);
    await waitUntil(() => outcomes.length === 1);
    expect(outcomes[0]!.error.constructor.name).toBe('APIUserAbortError');
    if (!OPENAI_VERSION.startsWith('6.')) expect(outcomes[0]!.error.cause).toMatchObject({ code: 'CLIENT_DISCONNECTED' }); // v6's APIUserAbortError has no cause
    await new Promise((r) => setTimeout(r, 300));
    expect(stack.gatewayRequests).toHaveLength(1);
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
    // The stream throws (the SDK would end it silently, as if the answer were complete).
    await waitUntil(() => outcomes.length === 1);
    expect(outcomes[0]!.error).toMatchObject({ name: 'PortkeyContextError', code: 'CLIENT_DISCONNECTED' });
    expect(stack.gatewayRequests).toHaveLength(1);
  });
  it('stream, before its response starts: the gateway request is closed within 100 ms, APIUserAbortError, not retried', async () => {
    stack.stub.script(() => ({ delayMs: 5000 }));
    const caller = openRequest(`${app.url}/slow-stream`, { q: 'slow to start' });
    await waitUntil(() => stack.stub.requests.length === 1);
    const leftAt = caller.leave();
    await waitUntil(() => stack.gatewayRequests[0]?.closedAt !== undefined, 2000);
    expect(stack.gatewayRequests[0]!.clientAborted).toBe(true);
    expect(stack.gatewayRequests[0]!.closedAt! - leftAt).toBeLessThan(100);
    await waitUntil(() => outcomes.length === 1);
    expect(outcomes[0]!.error.constructor.name).toBe('APIUserAbortError');
    if (!OPENAI_VERSION.startsWith('6.')) expect(outcomes[0]!.error.cause).toMatchObject({ code: 'CLIENT_DISCONNECTED' }); // v6's APIUserAbortError has no cause
    await new Promise((r) => setTimeout(r, 300));
    expect(stack.gatewayRequests).toHaveLength(1);
  });
});
