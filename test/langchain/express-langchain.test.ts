import { tool } from '@langchain/core/tools';
import express from 'express';
import { createAgent } from 'langchain';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { z } from 'zod';
import { portkeyMiddleware } from 'portkey-context/express';
import { ChatPortkey, portkeyResponseMetadata } from 'portkey-context/langchain';
import { serveOnLoopback } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';
import { toolUsingModel } from './scripted-replies.js';

const stack = useGatewayStack();
let server: { url: string; close(): Promise<void> };

beforeAll(async () => {
  // One model for the whole app, as users keep it.
  const model = new ChatPortkey({ model: 'gpt-4o-mini', apiKey: 'pk-app', baseURL: stack.baseURL, ...stack.providerOptions, maxConcurrency: 4, maxRetries: 0 });
  const lookup = tool(async ({ city }: { city: string }) => `sunny in ${city}`, {
    name: 'get_weather',
    description: 'Weather for a city',
    schema: z.object({ city: z.string() }),
  });
  const agent = createAgent({ model, tools: [lookup] });

  const app = express();
  app.use(portkeyMiddleware());
  app.use((req, _res, next) => {
    (req as any).user = { id: req.header('x-user') };
    next();
  });
  app.get('/chat', async (req, res) => {
    const reply = await model.invoke(String(req.query.q));
    res.json({ text: reply.content, traceId: portkeyResponseMetadata(reply)?.traceId });
  });
  app.get('/stream', async (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for await (const chunk of await model.stream(String(req.query.q))) res.write(`data: ${JSON.stringify(chunk.content)}\n\n`);
    res.end('event: done\ndata: {}\n\n');
  });
  app.get('/agent', async (req, res) => {
    const result = await agent.invoke({ messages: [{ role: 'user', content: String(req.query.q) }] });
    res.json({ text: result.messages.at(-1)?.content });
  });
  server = await serveOnLoopback(app);
});
afterAll(async () => {
  await server?.close();
});
// Scripted again after each reset, so a test that scripts another reply changes only its own.
beforeEach(() => {
  stack.stub.script(toolUsingModel);
});

it('50 overlapping requests from 50 users: every gateway call carries its own request\'s trace ID and user', async () => {
  const routes = ['chat', 'stream', 'agent'] as const;
  const responses = await Promise.all(
    Array.from({ length: 50 }, (_, i) => {
      const route = routes[i % 3]!;
      const q = `user-${i} asks [slow:${(i * 7) % 40}]`;
      return request(server.url)
        .get(`/${route}`)
        .query({ q })
        .set('x-request-id', `req-${i}`)
        .set('x-user', `user-${i}`)
        .then((res) => ({ i, route, res }));
    }),
  );
  for (const { i, route, res } of responses) {
    expect(res.status, `${route} ${i}`).toBe(200);
    expect(res.headers['x-portkey-trace-id']).toBe(`req-${i}`);
    if (route === 'chat') expect(res.body).toEqual({ text: `echo: user-${i} asks [slow:${(i * 7) % 40}]`, traceId: `req-${i}` });
    if (route === 'stream') {
      const text = [...res.text.matchAll(/^data: (".*")$/gm)].map((m) => JSON.parse(m[1]!)).join('');
      expect(text).toBe(`echo: user-${i} asks [slow:${(i * 7) % 40}]`);
    }
    if (route === 'agent') expect(res.body.text).toBe('final answer after tool: sunny in Paris');
  }

  // 17 chat + 17 stream + 16 agents x 2 model calls
  expect(stack.gatewayRequests).toHaveLength(17 + 17 + 16 * 2);
  for (const sent of stack.gatewayRequests) {
    const firstUserText: string = sent.body.messages.find((m: any) => m.role === 'user').content;
    const i = Number(/^user-(\d+) /.exec(firstUserText)![1]);
    expect(sent.headers['x-portkey-trace-id'], firstUserText).toBe(`req-${i}`);
    expect(JSON.parse(String(sent.headers['x-portkey-metadata']))._user).toBe(`user-${i}`);
    expect(sent.headers['x-portkey-api-key']).toBe('pk-app');
  }
});
