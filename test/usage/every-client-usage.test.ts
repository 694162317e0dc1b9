/**
 * The usage ledger with every client of the package (the `openai` SDK, the AI SDK, Portkey's SDK,
 * `portkeyFetch`), plain and streamed, through the real gateway and a real Express app: each
 * request's summary holds its calls with the figures the provider sent.
 */
import { generateText, streamText } from 'ai';
import express from 'express';
import { Portkey } from 'portkey-ai';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { portkeyFetch, portkeyUsage, runWithPortkeyContext } from 'portkey-context';
import { createPortkey } from 'portkey-context/ai-sdk';
import { portkeyMiddleware } from 'portkey-context/express';
import { createPortkeyOpenAI } from 'portkey-context/openai';
import { createPortkeyClient } from 'portkey-context/portkey-ai';
import { serveOnLoopback } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';

const stack = useGatewayStack();
let server: { url: string; close(): Promise<void> };

beforeAll(async () => {
  const routing = { apiKey: 'pk-app', baseURL: stack.baseURL, ...stack.providerOptions };
  const openai = createPortkeyOpenAI(routing);
  const aiSdk = createPortkey(routing)('gpt-4o-mini');
  const portkey = createPortkeyClient(Portkey, { ...routing, customHost: routing.customHost });
  const gatewayFetch = portkeyFetch({ apiKey: 'pk-app', ...stack.providerOptions });
  const messages = (q: string) => [{ role: 'user' as const, content: q }];
  const clients: Record<string, (q: string) => Promise<unknown>> = {
    openai: async (q) => {
      await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: messages(`${q} plain`) });
      const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: messages(`${q} streamed`), stream: true, stream_options: { include_usage: true } });
      for await (const _chunk of stream);
    },
    'ai-sdk': async (q) => {
      await generateText({ model: aiSdk, prompt: `${q} plain` });
      await streamText({ model: aiSdk, prompt: `${q} streamed` }).consumeStream();
    },
    'portkey-ai': async (q) => {
      await portkey.chat.completions.create({ model: 'gpt-4o-mini', messages: messages(`${q} plain`) });
      const stream = await portkey.chat.completions.create({ model: 'gpt-4o-mini', messages: messages(`${q} streamed`), stream: true, stream_options: { include_usage: true } } as never);
      for await (const _chunk of stream as unknown as AsyncIterable<unknown>);
    },
    fetch: async (q) => {
      for (const stream of [false, true]) {
        const res = await gatewayFetch(`${stack.baseURL}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o-mini', messages: messages(`${q} ${stream ? 'streamed' : 'plain'}`), stream, stream_options: stream ? { include_usage: true } : undefined }),
        });
        await res.text();
      }
    },
  };
  const app = express();
  app.use(portkeyMiddleware());
  app.get('/:client', async (req, res) => {
    await clients[req.params.client]!(String(req.query.q));
    res.json(req.portkey.usage);
  });
  server = await serveOnLoopback(app);
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => {
  stack.stub.script((body) => {
    const prompt = JSON.stringify(body.messages).length;
    return { usage: { prompt_tokens: prompt, completion_tokens: 4, total_tokens: prompt + 4, prompt_tokens_details: { cached_tokens: 2 } } };
  });
});

it.each(['openai', 'ai-sdk', 'portkey-ai', 'fetch'])('%s: a plain and a streamed call, each in the ledger with the provider\'s usage', async (client) => {
  const res = await request(server.url).get(`/${client}`).query({ q: `${client} asks` }).set('x-request-id', `usage-${client}`);
  expect(res.status).toBe(200);
  expect(stack.stub.requests).toHaveLength(2);
  const sent = stack.stub.requests.map((s) => s.usage as { prompt_tokens: number; total_tokens: number });
  expect(res.body).toMatchObject({
    calls: 2,
    failed: 0,
    inFlight: 0,
    inputTokens: sent[0]!.prompt_tokens + sent[1]!.prompt_tokens,
    outputTokens: 8,
    cachedInputTokens: 4,
    totalTokens: sent[0]!.total_tokens + sent[1]!.total_tokens,
  });
  expect(res.body.entries.map((e: { stream: boolean; traceId: string; model: string }) => [e.stream, e.traceId, e.model])).toEqual([
    [false, `usage-${client}`, 'gpt-4o-mini'],
    [true, `usage-${client}`, 'gpt-4o-mini'],
  ]);
  expect(res.body.entries[1].timeToFirstTokenMs).toBeGreaterThan(0);
});

it('a JSON answer whose body was only looked at (util.inspect, `if (res.body)`) still reads, and is recorded', async () => {
  const gatewayFetch = portkeyFetch({ apiKey: 'pk-app', ...stack.providerOptions });
  await runWithPortkeyContext({ traceId: 'peek' }, async () => {
    const res = await gatewayFetch(`${stack.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'peek' }] }),
    });
    inspect(res);
    expect(res.body).toBeTruthy();
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe('echo: peek');
    expect(portkeyUsage()).toMatchObject({ calls: 1, failed: 0, inFlight: 0, outputTokens: 4 });
  });
});

it('a streamed answer cut before its end is a failed call in the ledger', async () => {
  stack.stub.script(() => ({ cutAfterChunks: 2 }));
  const gatewayFetch = portkeyFetch({ apiKey: 'pk-app', ...stack.providerOptions });
  await runWithPortkeyContext({ traceId: 'cut' }, async () => {
    const res = await gatewayFetch(`${stack.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'cut' }], stream: true }),
    });
    await res.text().catch(() => undefined);
    expect(portkeyUsage()).toMatchObject({ calls: 1, failed: 1, inFlight: 0 });
  });
});
