/**
 * `portkeyFetch()`: every request carries the context in force when it is sent, through the real
 * gateway, from a real Express app. What the gateway saw is read at the recording proxy, what the
 * provider saw at the stub.
 */
import { inspect } from 'node:util';
import express from 'express';
import { PORTKEY_REQUEST_OPTIONS, type PortkeyRequestInit, portkeyFetch } from 'portkey-context';
import { portkeyMiddleware } from 'portkey-context/express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { openRequest, serveOnLoopback, waitUntil } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';

const stack = useGatewayStack();

const metadataOf = (headers: Record<string, unknown>) => JSON.parse(String(headers['x-portkey-metadata'] ?? '{}'));

/** An app whose routes call the gateway with plain `fetch` calls made through `portkeyFetch()`. */
function makeApp(gatewayFetch: typeof fetch) {
  const app = express();
  app.use(express.json());
  app.use(portkeyMiddleware({ apiKey: 'pk-fetch-test' }));
  app.use((req, _res, next) => {
    const user = req.header('x-user');
    if (user) (req as { user?: unknown }).user = { id: user };
    next();
  });
  const ask = (question: string, init?: PortkeyRequestInit) =>
    gatewayFetch(`${stack.baseURL}/chat/completions`, {
      ...init,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: question }] }),
    });
  app.post('/ask', async (req, res) => {
    const r = await ask(req.body.question);
    res.status(r.status).json(await r.json());
  });
  app.post('/ask-tagged', async (req, res) => {
    const tagged = await ask(req.body.question, { [PORTKEY_REQUEST_OPTIONS]: { metadata: { feature: 'tagged' }, cacheNamespace: 'tagged' } });
    await tagged.text();
    const plain = await ask(`${req.body.question} again`);
    res.json(await plain.json());
  });
  app.post('/slow', async (req, res) => {
    try {
      const r = await ask(req.body.question);
      res.json(await r.json());
    } catch (error) {
      res.destroyed || res.status(499).end(String(error));
    }
  });
  return app;
}

describe('portkeyFetch()', () => {
  it('50 overlapping requests from 50 users: every gateway request carries its own trace ID and _user', async () => {
    const app = makeApp(portkeyFetch(stack.providerOptions));
    stack.stub.script(() => ({ delayMs: 5 + Math.floor(Math.random() * 30) }));
    const users = Array.from({ length: 50 }, (_, i) => `user-${i}`);
    const replies = await Promise.all(
      users.map((user, i) => request(app).post('/ask').set('x-user', user).set('x-request-id', `trace-${i}`).send({ question: `q-${i}` })),
    );
    for (const [i, reply] of replies.entries()) {
      expect(reply.status).toBe(200);
      expect(reply.body.choices[0].message.content).toContain(`q-${i}`);
    }
    expect(stack.gatewayRequests).toHaveLength(50);
    for (const sent of stack.gatewayRequests) {
      const i = Number(String(sent.headers['x-portkey-trace-id']).replace('trace-', ''));
      expect(sent.body.messages[0].content).toBe(`q-${i}`);
      expect(metadataOf(sent.headers)._user).toBe(`user-${i}`);
      expect(sent.headers['x-portkey-api-key']).toBe('pk-fetch-test');
      expect(sent.headers.authorization).toBe(stack.providerOptions.authorization); // provider auth configured
    }
  });

  it("a request's own overrides apply to it only, and never reach the provider", async () => {
    const app = makeApp(portkeyFetch(stack.providerOptions));
    await request(app).post('/ask-tagged').set('x-user', 'tagger').set('x-request-id', 'tagged-1').send({ question: 'hello' }).expect(200);
    const [tagged, plain] = stack.gatewayRequests;
    expect(metadataOf(tagged!.headers)).toMatchObject({ _user: 'tagger', feature: 'tagged' });
    expect(tagged!.headers['x-portkey-cache-namespace']).toBe('tagged');
    expect(metadataOf(plain!.headers)).toEqual(expect.not.objectContaining({ feature: expect.anything() }));
    expect(plain!.headers['x-portkey-cache-namespace']).toBeUndefined();
    expect(plain!.headers['x-portkey-trace-id']).toBe('tagged-1');
    for (const upstream of stack.stub.requests) expect(JSON.stringify(upstream.body)).not.toContain('tagged');
  });

  it('without provider auth, no Authorization reaches the gateway; a gateway error keeps its message and the trace ID', async () => {
    const app = makeApp(portkeyFetch()); // no routing at all
    const reply = await request(app).post('/ask').set('x-request-id', 'no-routing-1').send({ question: 'hi' });
    expect(reply.status).toBe(400);
    expect(reply.body.error.message).toMatch(/^Portkey gateway: .+ \[Portkey trace ID: no-routing-1\]$/);
    expect(stack.gatewayRequests[0]!.headers.authorization).toBeUndefined();
    expect(stack.stub.requests).toHaveLength(0);
  });

  it("an upstream error that echoes the request's keys comes back with them redacted", async () => {
    const app = makeApp(portkeyFetch(stack.providerOptions));
    stack.stub.script((_body, req) => ({ status: 401, json: { error: { message: `Incorrect API key provided: ${req.headers.authorization}`, type: 'auth' } } }));
    const reply = await request(app).post('/ask').set('x-request-id', 'echo-1').send({ question: 'hi' });
    expect(reply.status).toBe(401);
    expect(reply.body.error.message).toMatch(/Incorrect API key provided: \[redacted\].*\[Portkey trace ID: echo-1\]$/);
    expect(inspect(reply.body, { depth: 5 })).not.toContain('sk-stub-provider-key');
  });

  it('a client that disconnects aborts the gateway request', async () => {
    const app = makeApp(portkeyFetch(stack.providerOptions));
    const server = await serveOnLoopback(app);
    try {
      stack.stub.script(() => ({ hang: true }));
      const client = openRequest(`${server.url}/slow`, { question: 'never answered' });
      await waitUntil(() => stack.stub.requests.length === 1);
      const leftAt = client.leave();
      await waitUntil(() => stack.gatewayRequests[0]?.closedAt !== undefined);
      expect(stack.gatewayRequests[0]!.closedAt! - leftAt).toBeLessThan(100);
    } finally {
      await server.close();
    }
  });

  it('refuses bad options at once, never echoing a secret', () => {
    expect(() => portkeyFetch({ apiKey: 'pk-secret-value\r\nx-injected: 1' })).toThrow(/apiKey/);
    expect(() => portkeyFetch({ apiKey: 'pk-secret-value\r\nx: 1' })).not.toThrow(/pk-secret-value/);
    expect(() => portkeyFetch({ baseURL: 'http://127.0.0.1:1/v1' } as never)).toThrow(/baseURL/);
    expect(() => portkeyFetch({ fetch: 'nope' as never })).toThrow(/"fetch" must be a fetch function/);
  });
});
