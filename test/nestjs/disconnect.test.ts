/**
 * The request signal in a real Nest app, on Express and on Fastify, with one shared ChatPortkey
 * and the real gateway: a client that leaves aborts its gateway call (and its queued calls are never
 * sent), a normal request is never aborted, and `abortOnDisconnect: false` turns it off.
 * The Nest counterpart of test/langchain/lifecycle.test.ts.
 */
import type { AddressInfo } from 'node:net';
import type { DynamicModule, INestApplication } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChatPortkey } from 'portkey-context/langchain';
import { PortkeyModule } from 'portkey-context/nestjs';
import { openRequest, waitUntil } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';
import { createDisconnectModule, type DisconnectState } from './disconnect-app.js';

const stack = useGatewayStack();


const adapters = [
  { name: 'express', create: () => new ExpressAdapter() },
  { name: 'fastify', create: () => new FastifyAdapter() },
] as const;

/** Serves the disconnect app on 127.0.0.1 with its own ChatPortkey (`maxConcurrency: 1`) and outcomes. */
async function startApp(adapter: (typeof adapters)[number], portkey: DynamicModule) {
  const state: DisconnectState = { outcomes: [], abortedDuringWait: [], signals: [] };
  state.model = new ChatPortkey({ model: 'gpt-4o-mini', apiKey: 'pk-nest', baseURL: stack.baseURL, ...stack.providerOptions, maxConcurrency: 1 });
  const moduleRef = await Test.createTestingModule({ imports: [createDisconnectModule(portkey, state)] }).compile();
  const app: INestApplication = moduleRef.createNestApplication(adapter.create() as any, { logger: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, state };
}


const postJson = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe.each(adapters)('client disconnects on Nest ($name, real gateway)', (adapter) => {
  let app: INestApplication;
  let url: string;
  let state: DisconnectState;
  beforeAll(async () => {
    ({ app, url, state } = await startApp(adapter, PortkeyModule.forRoot({ apiKey: 'pk-nest' })));
  });
  afterAll(async () => {
    await app?.close();
  });
  beforeEach(() => {
    state.outcomes.length = 0;
    state.abortedDuringWait.length = 0;
    state.signals.length = 0;
  });

  it('invoke: the gateway call is closed within 100 ms of the client leaving', async () => {
    stack.stub.script(() => ({ delayMs: 5000 }));
    const client = openRequest(`${url}/chat`, { q: 'slow' });
    await waitUntil(() => stack.stub.requests.length === 1);
    const leftAt = client.leave();
    await waitUntil(() => stack.gatewayRequests[0]?.closedAt !== undefined, 2000);
    const call = stack.gatewayRequests[0]!;
    expect(call.clientAborted).toBe(true);
    expect(call.closedAt! - leftAt).toBeLessThan(100);
    await waitUntil(() => state.outcomes.length === 1);
    expect(state.outcomes).toEqual(['CLIENT_DISCONNECTED']);
    expect(stack.gatewayRequests).toHaveLength(1);
  });

  it('stream: a client leaving mid-stream closes the gateway stream within 100 ms', async () => {
    stack.stub.script(() => ({ chunkDelayMs: 300, content: 'a slow streamed answer that takes seconds' }));
    const client = openRequest(`${url}/stream`, { q: 'slow stream' });
    await client.firstData;
    await waitUntil(() => stack.gatewayRequests[0]?.response !== undefined);
    const leftAt = client.leave();
    await waitUntil(() => stack.gatewayRequests[0]?.closedAt !== undefined, 2000);
    const call = stack.gatewayRequests[0]!;
    expect(call.clientAborted).toBe(true);
    expect(call.closedAt! - leftAt).toBeLessThan(100);
    await waitUntil(() => state.outcomes.length === 1);
    expect(state.outcomes).toEqual(['CLIENT_DISCONNECTED']);
  });

  it('maxConcurrency: 1 and 10 clients leaving: no queued call ever reaches the gateway', async () => {
    stack.stub.script(() => ({ delayMs: 1000 }));
    const clients = Array.from({ length: 10 }, (_, i) => openRequest(`${url}/chat`, { q: `queued ${i}` }));
    await waitUntil(() => stack.gatewayRequests.length === 1);
    await new Promise((r) => setTimeout(r, 100)); // the other nine are waiting in the queue
    for (const client of clients) client.leave();
    await waitUntil(() => state.outcomes.length === 10, 3000);
    await new Promise((r) => setTimeout(r, 1500)); // long past the first call's slot
    expect(stack.gatewayRequests).toHaveLength(1);
    expect(stack.gatewayRequests[0]!.clientAborted).toBe(true);
    expect(state.outcomes).toEqual(Array(10).fill('CLIENT_DISCONNECTED'));
    // and the queue still serves the next request
    stack.stub.script(undefined);
    const res = await postJson(`${url}/chat`, { q: 'after' });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ answer: 'echo: after' });
  });

  it('normal requests are never aborted: a POST with a body and a slow handler, a streamed response', async () => {
    stack.stub.script(() => ({ chunkDelayMs: 20 }));
    const post = await postJson(`${url}/chat`, { q: 'patient', waitMs: 300, padding: 'x'.repeat(50_000) });
    expect(post.status).toBe(201);
    expect(await post.json()).toEqual({ answer: 'echo: patient' });
    const stream = await postJson(`${url}/stream`, { q: 'streamed fully' });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('x-portkey-trace-id')).toMatch(/^[0-9a-f]{32}$/);
    expect(await stream.text()).toContain('event: done');
    expect(state.outcomes).toEqual(['answered', 'streamed']);
    expect(state.abortedDuringWait).toEqual([false]);
    expect(stack.gatewayRequests.map((r) => r.clientAborted)).toEqual([false, false]);
    const signal = await fetch(`${url}/signal`);
    expect(await signal.json()).toEqual({ aborted: false, hasSignal: true });
    // The responses are complete (and closed): a signal kept past its response never fires.
    await new Promise((r) => setTimeout(r, 50));
    expect(state.signals.map((s) => s?.aborted)).toEqual([false, false]);
  });
});

describe.each(adapters)('abortOnDisconnect: false on Nest ($name)', (adapter) => {
  let app: INestApplication;
  let url: string;
  let state: DisconnectState;
  beforeAll(async () => {
    ({ app, url, state } = await startApp(adapter, PortkeyModule.forRoot({ apiKey: 'pk-nest', abortOnDisconnect: false })));
  });
  afterAll(async () => {
    await app?.close();
  });

  it('the context has no signal, and a client leaving does not abort its gateway call', async () => {
    const res = await fetch(`${url}/signal`);
    expect(await res.json()).toEqual({ hasSignal: false });

    stack.stub.script(() => ({ delayMs: 300 }));
    const client = openRequest(`${url}/chat`, { q: 'left behind' });
    await waitUntil(() => stack.stub.requests.length === 1);
    client.leave();
    await waitUntil(() => state.outcomes.length === 1, 3000);
    expect(state.outcomes).toEqual(['answered']);
    expect(stack.gatewayRequests).toHaveLength(1);
    expect(stack.gatewayRequests[0]!.clientAborted).toBe(false);
  });
});
