/**
 * Per-tenant routing through the real gateway and a real Express app, with every client of the
 * package: the tenant is resolved once per request (async, after auth), every gateway request
 * carries its own tenant's key, provider auth, metadata and cache namespace, and `requireTenant`
 * refuses a call without a tenant before anything is sent.
 */
import { inspect } from 'node:util';
import { generateText } from 'ai';
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { PortkeyContextError, portkeyFetch, type TenantRouting, withPortkeyOverrides } from 'portkey-context';
import { createPortkey } from 'portkey-context/ai-sdk';
import { portkeyMiddleware } from 'portkey-context/express';
import { ChatPortkey } from 'portkey-context/langchain';
import { createPortkeyOpenAI } from 'portkey-context/openai';
import { createPortkeyClient } from 'portkey-context/portkey-ai';
import { Portkey } from 'portkey-ai';
import { serveOnLoopback } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';

const stack = useGatewayStack();
let server: { url: string; close(): Promise<void> };
/** How many times the tenant option ran, per request (trace ID). */
const resolutions = new Map<string, number>();

const TENANTS: Record<string, TenantRouting> = {
  acme: { id: 'acme', apiKey: 'pk-acme', metadata: { _organisation: 'acme', plan: 'pro' } },
  globex: { id: 'globex', apiKey: 'pk-globex', authorization: 'Bearer sk-globex-provider', cacheNamespace: 'globex-cache', metadata: { _organisation: 'globex' } },
};

const metadataOf = (headers: Record<string, unknown>) => JSON.parse(String(headers['x-portkey-metadata'] ?? '{}'));

/** A stand-in for passport, mounted after the middleware: the user and their tenant from test headers. */
function fakeAuth(req: Request, _res: Response, next: NextFunction) {
  const id = req.header('x-user');
  if (id) (req as { user?: unknown }).user = { id, tenant: req.header('x-tenant') };
  next();
}

beforeAll(async () => {
  const app = express();
  app.use(
    portkeyMiddleware({
      apiKey: 'pk-app-default',
      ...stack.providerOptions,
      requireTenant: true,
      tenant: async (req) => {
        const traceId = String(req.headers['x-request-id']);
        resolutions.set(traceId, (resolutions.get(traceId) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, 5)); // a database lookup
        const name = (req.user as { tenant?: string } | undefined)?.tenant;
        if (name === 'broken') throw new Error('tenant database unavailable');
        return name === undefined ? undefined : TENANTS[name];
      },
    }),
  );
  app.use(fakeAuth);

  const model = new ChatPortkey({ model: 'gpt-4o-mini', baseURL: stack.baseURL, maxRetries: 0 });
  const openai = createPortkeyOpenAI({ baseURL: stack.baseURL, configuration: { maxRetries: 0 } });
  const aiSdk = createPortkey({ baseURL: stack.baseURL })('gpt-4o-mini');
  const gatewayFetch = portkeyFetch();
  const portkeyAi = createPortkeyClient(Portkey, { baseURL: stack.baseURL, maxRetries: 0 });
  const ask: Record<string, (q: string) => Promise<unknown>> = {
    langchain: (q) => model.invoke(q),
    openai: (q) => openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: q }] }),
    'ai-sdk': (q) => generateText({ model: aiSdk, prompt: q, maxRetries: 0 }),
    'portkey-ai': (q) => portkeyAi.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: q }] }),
    fetch: async (q) => {
      const res = await gatewayFetch(`${stack.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: q }] }),
      });
      if (!res.ok) throw new Error(`gateway ${res.status}`);
      return res.json();
    },
  };
  app.get('/ask', async (req, res) => {
    const send = ask[String(req.query.client)]!;
    const q = String(req.query.q);
    try {
      // Two calls: one plain, one in a scope with its own cache namespace.
      await Promise.all([send(`${q} plain`), withPortkeyOverrides({ cacheNamespace: 'summaries' }, () => send(`${q} scoped`))]);
      res.json({ tenant: req.portkey.usage.tenant });
    } catch (error) {
      const code = error instanceof PortkeyContextError ? error.code : ((error as { cause?: { code?: string } }).cause?.code ?? String(error));
      res.status(403).json({ code });
    }
  });
  app.get('/fail', async (req, res) => {
    const error = await ask[String(req.query.client)]!('echo my key').then(
      () => undefined,
      (e: unknown) => e,
    );
    res.json({ error: inspect(error, { depth: 6 }), usage: req.portkey.usage });
  });
  server = await serveOnLoopback(app);
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => {
  resolutions.clear();
});

it('2 tenants x 100 overlapping requests, every client: each gateway request carries its own tenant\'s key, auth, metadata and cache namespace', async () => {
  const clients = ['langchain', 'openai', 'ai-sdk', 'portkey-ai', 'fetch'];
  stack.stub.script((body) => ({ delayMs: (JSON.stringify(body).length * 7) % 25 }));
  const responses = await Promise.all(
    Array.from({ length: 200 }, (_, i) => {
      const tenant = i % 2 === 0 ? 'acme' : 'globex';
      return request(server.url)
        .get('/ask')
        .query({ client: clients[i % clients.length], q: `u${i} of ${tenant}` })
        .set('x-request-id', `req-${i}`)
        .set('x-user', `u${i}`)
        .set('x-tenant', tenant)
        .then((res) => ({ i, tenant, res }));
    }),
  );
  for (const { i, tenant, res } of responses) {
    expect(res.status, `request ${i}`).toBe(200);
    expect(res.body.tenant).toBe(tenant);
    expect(resolutions.get(`req-${i}`), `tenant option runs once for request ${i}`).toBe(1);
  }

  expect(stack.gatewayRequests).toHaveLength(400);
  let wrongTenant = 0;
  for (const sent of stack.gatewayRequests) {
    const content = JSON.stringify(sent.body);
    const [, i, tenant] = /u(\d+) of (acme|globex) (plain|scoped)/.exec(content)!;
    const scoped = content.includes('scoped');
    const routing = TENANTS[tenant!]!;
    const namespace = routing.cacheNamespace ?? routing.id;
    const expected = {
      key: routing.apiKey,
      namespace: scoped ? `${namespace}/summaries` : namespace,
      auth: routing.authorization ?? stack.providerOptions.authorization,
    };
    const metadata = metadataOf(sent.headers);
    if (
      sent.headers['x-portkey-trace-id'] !== `req-${i}` ||
      sent.headers['x-portkey-api-key'] !== expected.key ||
      sent.headers['x-portkey-cache-namespace'] !== expected.namespace ||
      sent.headers.authorization !== expected.auth ||
      metadata._organisation !== tenant ||
      metadata._user !== `u${i}`
    ) {
      wrongTenant++;
    }
  }
  expect(wrongTenant).toBe(0);
  // The provider saw each tenant's own provider key.
  for (const sent of stack.stub.requests) {
    const tenant = /of (acme|globex)/.exec(JSON.stringify(sent.body))![1]!;
    expect(sent.headers.authorization).toBe(TENANTS[tenant]!.authorization ?? stack.providerOptions.authorization);
  }
});

it('requireTenant: a request without a tenant sends nothing, with every client (NO_TENANT)', async () => {
  for (const client of ['langchain', 'openai', 'ai-sdk', 'portkey-ai', 'fetch']) {
    const res = await request(server.url).get('/ask').query({ client, q: 'nobody' }).set('x-request-id', `no-tenant-${client}`).set('x-user', 'u-x');
    expect(res.status, client).toBe(403);
    expect(res.body.code, client).toBe('NO_TENANT');
  }
  expect(stack.gatewayRequests).toHaveLength(0);
  expect(stack.stub.requests).toHaveLength(0);
});

it('a tenant option that fails refuses the calls (TENANT_RESOLUTION_FAILED), sends nothing, and is asked again by the next call', async () => {
  const res = await request(server.url).get('/ask').query({ client: 'langchain', q: 'broken' }).set('x-request-id', 'broken-1').set('x-user', 'u-b').set('x-tenant', 'broken');
  expect(res.status).toBe(403);
  expect(res.body.code).toBe('TENANT_RESOLUTION_FAILED');
  expect(stack.gatewayRequests).toHaveLength(0);
  // Both calls of the request asked (a failure is not kept), concurrently sharing one attempt or not.
  expect(resolutions.get('broken-1')).toBeGreaterThanOrEqual(1);
});

it('a tenant\'s keys are secrets: an upstream error that echoes them shows neither, with any client (nor does the ledger)', async () => {
  // The provider answers 401 and echoes the credentials it was sent, as some do.
  stack.stub.script((_body, recorded) => ({ status: 401, json: { error: { message: `bad key ${recorded.headers.authorization}`, type: 'auth' } } }));
  for (const client of ['langchain', 'openai', 'ai-sdk', 'fetch']) {
    const res = await request(server.url).get('/fail').query({ client }).set('x-request-id', `fail-${client}`).set('x-user', 'u-f').set('x-tenant', 'globex');
    expect(res.status, client).toBe(200);
    const shown = JSON.stringify(res.body);
    expect(shown, client).toContain('bad key');
    expect(shown, client).not.toContain('sk-globex-provider');
    expect(shown, client).not.toContain('pk-globex');
    expect(res.body.usage.failed, client).toBeGreaterThanOrEqual(1);
  }
  // It did reach the provider: the key was the tenant's.
  expect(stack.stub.requests.every((sent) => sent.headers.authorization === 'Bearer sk-globex-provider')).toBe(true);
});
