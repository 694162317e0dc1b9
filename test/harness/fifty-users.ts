/**
 * The attribution check every client's tests run: 50 overlapping requests from 50 users, half to
 * the app's `/chat` route and half to its `/stream` route (both `GET ?q=`, answering
 * `{ text, traceId }` and SSE `data: "<text piece>"` lines), the stub answering after a per-user
 * delay so the calls overlap. Every reply is checked, and every gateway request must carry its own
 * request's trace ID and user (counted: 0 mis-attributed), the Portkey key and the provider auth.
 */
import request from 'supertest';
import { expect } from 'vitest';
import type { GatewayStack } from './index.js';

const userText = (sent: { body: any }): string => sent.body?.messages?.find((m: any) => m.role === 'user')?.content ?? '';

export async function expectFiftyUsersAttributed(appURL: string, stack: GatewayStack, keys: { portkeyKey: string; providerKey: string }): Promise<void> {
  stack.stub.script((body) => ({ delayMs: Number(/\[slow:(\d+)\]/.exec(userText({ body }))?.[1] ?? 0), chunkDelayMs: 5 }));
  const responses = await Promise.all(
    Array.from({ length: 50 }, (_, i) => {
      const route = i % 2 === 0 ? 'chat' : 'stream';
      const q = `user-${i} asks [slow:${(i * 7) % 40}]`;
      return request(appURL)
        .get(`/${route}`)
        .query({ q })
        .set('x-request-id', `req-${i}`)
        .set('x-user', `user-${i}`)
        .then((res) => ({ i, route, q, res }));
    }),
  );
  for (const { i, route, q, res } of responses) {
    expect(res.status, `${route} ${i}`).toBe(200);
    if (route === 'chat') expect(res.body).toEqual({ text: `echo: ${q}`, traceId: `req-${i}` }); // the trace ID the gateway echoed
    else expect([...res.text.matchAll(/^data: (".*")$/gm)].map((m) => JSON.parse(m[1]!)).join('')).toBe(`echo: ${q}`);
  }

  expect(stack.gatewayRequests).toHaveLength(50);
  let misattributed = 0;
  for (const sent of stack.gatewayRequests) {
    const i = Number(/^user-(\d+) /.exec(userText(sent))![1]);
    const user = JSON.parse(String(sent.headers['x-portkey-metadata'] ?? '{}'))._user;
    if (sent.headers['x-portkey-trace-id'] !== `req-${i}` || user !== `user-${i}`) misattributed++;
    expect(sent.headers['x-portkey-api-key']).toBe(keys.portkeyKey);
    expect(sent.headers.authorization).toBe(`Bearer ${keys.providerKey}`);
  }
  expect(misattributed).toBe(0);
  // The provider got the provider key, and the requests it got are the 50 users' own.
  expect(stack.stub.requests).toHaveLength(50);
  for (const upstream of stack.stub.requests) expect(upstream.headers.authorization).toBe(`Bearer ${keys.providerKey}`);
  expect(new Set(stack.stub.requests.map((r) => userText(r))).size).toBe(50);
}
