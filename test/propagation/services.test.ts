/**
 * The trace crosses services: service A (the edge, with auth) calls service B (internal); both
 * call the real gateway. One trace ID across both; `_user` crosses only where B trusts it.
 */
import express from 'express';
import {
  capturePortkeyContext,
  parseTraceparent,
  portkeyFetch,
  portkeyHeaders,
  portkeyPropagationHeaders,
  runWithPortkeyContext,
  withPortkeyPropagation,
} from 'portkey-context';
import { portkeyMiddleware } from 'portkey-context/express';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { serveOnLoopback } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';

const stack = useGatewayStack();
const servers: { close(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const metadataOf = (headers: Record<string, unknown>) => JSON.parse(String(headers['x-portkey-metadata'] ?? '{}'));

function ask(gatewayFetch: typeof fetch, question: string) {
  return gatewayFetch(`${stack.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: question }] }),
  }).then((r) => r.json());
}

/** Service B: internal, no auth of its own. */
async function startServiceB(trustIncomingMetadata?: string[]) {
  const app = express();
  app.use(portkeyMiddleware({ apiKey: 'pk-service-b', trustIncomingMetadata }));
  const gatewayFetch = portkeyFetch(stack.providerOptions);
  app.get('/summarize', async (req, res) => {
    await ask(gatewayFetch, 'B: summarize');
    res.json({ traceId: req.portkey.traceId, metadata: req.portkey.metadata });
  });
  const server = await serveOnLoopback(app);
  servers.push(server);
  return server.url;
}

/** Service A: the edge, with auth; calls the gateway, then service B. */
function serviceA(serviceB: string, sendMetadata?: string[]) {
  const app = express();
  app.use(portkeyMiddleware({ apiKey: 'pk-service-a' }));
  app.use((req, _res, next) => {
    Object.assign(req, { user: { id: req.get('x-user') } });
    next();
  });
  const gatewayFetch = portkeyFetch(stack.providerOptions);
  const serviceFetch = withPortkeyPropagation(fetch, { metadata: sendMetadata });
  app.get('/ask', async (_req, res) => {
    await ask(gatewayFetch, 'A: answer');
    const fromB = await (await serviceFetch(`${serviceB}/summarize`)).json();
    res.json(fromB);
  });
  return app;
}

describe('service to service', () => {
  it('A → B: one trace ID at the gateway from both services; _user crosses because B trusts it', async () => {
    const b = await startServiceB(['_user']);
    const res = await request(serviceA(b, ['_user'])).get('/ask').set('x-request-id', 'svc-1').set('x-user', 'ada').expect(200);
    expect(res.body.traceId).toBe('svc-1');
    expect(stack.gatewayRequests.map((r) => [r.headers['x-portkey-api-key'], r.headers['x-portkey-trace-id'], metadataOf(r.headers)._user])).toEqual([
      ['pk-service-a', 'svc-1', 'ada'],
      ['pk-service-b', 'svc-1', 'ada'],
    ]);
  });

  it('a generated (W3C) trace ID also goes as traceparent; B continues the same trace', async () => {
    const b = await startServiceB();
    await request(serviceA(b)).get('/ask').set('x-user', 'ada').expect(200);
    const [fromA, fromB] = stack.gatewayRequests;
    expect(fromA!.headers['x-portkey-trace-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(fromB!.headers['x-portkey-trace-id']).toBe(fromA!.headers['x-portkey-trace-id']);
    expect(metadataOf(fromB!.headers)._user).toBeUndefined(); // B trusts no metadata
  });

  it("a client cannot pick _user at a service that does not trust incoming metadata, nor keys B didn't allow", async () => {
    const b = await startServiceB(['_organisation']);
    const url = `${b}/summarize`;
    const res = await fetch(url, { headers: { 'x-request-id': 'svc-evil', 'x-portkey-metadata': JSON.stringify({ _user: 'evil', _organisation: 'acme' }) } });
    const { metadata } = (await res.json()) as { metadata: Record<string, string> };
    expect(metadata._organisation).toBe('acme');
    expect(metadata._user).toBeUndefined();
    const sent = metadataOf(stack.gatewayRequests[0]!.headers);
    expect(sent._organisation).toBe('acme');
    expect(sent._user).toBeUndefined();
  });

  it('propagation headers: the trace ID, a valid traceparent for W3C-form IDs, metadata only when named', () => {
    expect(portkeyPropagationHeaders()).toEqual({});
    runWithPortkeyContext({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', metadata: { _user: 'ada', plan: 'pro' } }, () => {
      const headers = portkeyPropagationHeaders({ metadata: ['_user'] });
      expect(headers['x-portkey-trace-id']).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      expect(parseTraceparent(headers.traceparent!)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      expect(JSON.parse(headers['x-portkey-metadata']!)).toEqual({ _user: 'ada' });
    });
    runWithPortkeyContext({ traceId: 'req-42' }, () => expect(portkeyPropagationHeaders()).toEqual({ 'x-portkey-trace-id': 'req-42' }));
    runWithPortkeyContext({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736' }, () =>
      expect(portkeyPropagationHeaders({ traceparent: false })).toEqual({ 'x-portkey-trace-id': '4bf92f3577b34da6a3ce929d0e0e4736' }),
    );
  });

  it('refuses a trust list that is not one', () => {
    expect(() => portkeyMiddleware({ trustIncomingMetadata: '_user' as never })).toThrow(/"trustIncomingMetadata" must be an array/);
  });
});

describe('capturePortkeyContext()', () => {
  it('a JSON snapshot without secrets, from which runWithPortkeyContext starts the same context', () => {
    const secret = { apiKey: 'pk-secret-1', virtualKey: 'vk-secret-1', authorization: 'Bearer sk-secret-1', config: 'pc-secret-1' };
    const snapshot = runWithPortkeyContext(
      { traceId: 'snap-1', metadata: { _user: 'ada', n: 3 }, options: { ...secret, cacheNamespace: 'docs', customHost: 'http://u:pw-secret@llm.internal/v1' } },
      () => capturePortkeyContext(),
    );
    const json = JSON.stringify(snapshot);
    for (const value of ['pk-secret-1', 'vk-secret-1', 'sk-secret-1', 'pc-secret-1', 'pw-secret']) expect(json).not.toContain(value);
    expect(JSON.parse(json)).toEqual({ traceId: 'snap-1', metadata: { _user: 'ada', n: '3' }, options: { cacheNamespace: 'docs' } });
    const headers = runWithPortkeyContext(JSON.parse(json), () => portkeyHeaders());
    expect(headers).toMatchObject({ 'x-portkey-trace-id': 'snap-1', 'x-portkey-cache-namespace': 'docs' });
    expect(JSON.parse(headers['x-portkey-metadata']!)).toEqual({ _user: 'ada', n: '3' });
    expect(capturePortkeyContext()).toBeUndefined();
  });
});
