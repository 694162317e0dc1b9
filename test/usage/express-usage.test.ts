/**
 * The usage ledger through the real gateway and a real Express app: every request's ledger holds
 * exactly its own calls, its totals are what the provider (the stub) answered, `onRequestEnd` runs
 * once per request however it ends, and the token budget refuses calls before they are sent.
 */
import { tool } from '@langchain/core/tools';
import express from 'express';
import { createAgent } from 'langchain';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { z } from 'zod';
import { PortkeyContextError, type PortkeyRequestEndSummary, portkeyUsage } from 'portkey-context';
import { portkeyMiddleware } from 'portkey-context/express';
import { ChatPortkey } from 'portkey-context/langchain';
import { type RecordedUpstreamRequest, serveOnLoopback } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';
import { openRequest } from '../harness/open-request.js';
import { waitUntil as waitFor } from '../harness/wait.js';
import { toolUsingModel } from '../langchain/scripted-replies.js';

const stack = useGatewayStack();
let server: { url: string; close(): Promise<void> };
let budgetServer: { url: string; close(): Promise<void> };
const ended: { summary: PortkeyRequestEndSummary; url: string }[] = [];

/** Usage that differs per upstream request (from its messages), so sums prove which calls were counted. */
function usageOf(body: any): Record<string, unknown> {
  const size = JSON.stringify(body?.messages ?? []).length;
  const prompt = 10 + (size % 97);
  const completion = 5 + 3 * (body?.messages?.length ?? 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: prompt % 5 } };
}

const tagOf = (sent: RecordedUpstreamRequest): string | undefined => /\b(r\d+)\b/.exec(JSON.stringify(sent.body?.messages ?? ''))?.[1];

function stubTotals(tag: string) {
  const mine = stack.stub.requests.filter((sent) => tagOf(sent) === tag);
  const sum = (pick: (u: any) => number) => mine.reduce((total, sent) => total + pick(sent.usage), 0);
  return {
    calls: mine.length,
    inputTokens: sum((u) => u.prompt_tokens),
    outputTokens: sum((u) => u.completion_tokens),
    cachedInputTokens: sum((u) => u.prompt_tokens_details.cached_tokens),
    totalTokens: sum((u) => u.total_tokens),
  };
}

beforeAll(async () => {
  const model = new ChatPortkey({ model: 'gpt-4o-mini', apiKey: 'pk-app', baseURL: stack.baseURL, ...stack.providerOptions, maxRetries: 0 });
  const lookup = tool(async ({ city }: { city: string }) => `sunny in ${city}`, {
    name: 'get_weather',
    description: 'Weather for a city',
    schema: z.object({ city: z.string() }),
  });
  const agent = createAgent({ model, tools: [lookup] });

  const app = express();
  app.use(
    portkeyMiddleware({
      onRequestEnd: (summary, req) => {
        ended.push({ summary, url: req.url ?? '' });
      },
      serverTiming: true,
    }),
  );
  // Another app of the same process, with a budget.
  const budgeted = express();
  budgeted.use(portkeyMiddleware({ maxTokensPerRequest: 60 }));
  budgeted.get('/until-refused', async (req, res) => {
    const answers: string[] = [];
    try {
      for (let i = 0; i < 10; i++) answers.push(String((await model.invoke(`${req.query.tag} call ${i}`)).content));
      res.json({ answers });
    } catch (error) {
      const refused = error instanceof PortkeyContextError ? { code: error.code, message: error.message } : { message: String(error) };
      res.json({ answers, refused, usage: portkeyUsage() });
    }
  });
  app.get('/invoke', async (req, res) => {
    await model.invoke(String(req.query.q));
    res.json(req.portkey.usage);
  });
  app.get('/stream', async (req, res) => {
    let text = '';
    for await (const chunk of await model.stream(String(req.query.q))) text += chunk.text;
    res.json({ text, usage: req.portkey.usage });
  });
  app.get('/batch', async (req, res) => {
    await model.batch([`${req.query.q} one`, `${req.query.q} two`, `${req.query.q} three`]);
    res.json(req.portkey.usage);
  });
  app.get('/agent', async (req, res) => {
    await agent.invoke({ messages: [{ role: 'user', content: String(req.query.q) }] });
    res.json(req.portkey.usage);
  });
  app.get('/retried', async (req, res) => {
    const config = { retry: { attempts: 2, on_status_codes: [500] }, provider: 'openai', api_key: 'sk-stub-provider-key', custom_host: stack.stub.baseURL };
    await model.invoke(String(req.query.q), { portkey: { config } });
    res.json(req.portkey.usage);
  });
  app.get('/fails', async (req, res) => {
    try {
      await model.invoke(String(req.query.q));
      res.json({});
    } catch {
      res.status(502).json({ usage: req.portkey.usage });
    }
  });
  app.post('/slow', async (req, res) => {
    await model.invoke(String(req.query.q)).catch(() => undefined);
    res.json({});
  });
  server = await serveOnLoopback(app);
  budgetServer = await serveOnLoopback(budgeted);
});
afterAll(async () => {
  await server?.close();
  await budgetServer?.close();
});
beforeEach(() => {
  ended.length = 0;
  stack.stub.script((body, recorded) => {
    const reply = toolUsingModel(body, recorded) ?? {};
    return { ...reply, usage: usageOf(body) };
  });
});

it('100 overlapping requests (invoke, stream, batch, agent): each ledger holds only its own calls, totals equal what the provider answered, onRequestEnd once each', async () => {
  const routes = ['invoke', 'stream', 'batch', 'agent'] as const;
  const responses = await Promise.all(
    Array.from({ length: 100 }, (_, i) => {
      const route = routes[i % 4]!;
      return request(server.url)
        .get(`/${route}`)
        .query({ q: `r${i} asks [slow:${(i * 7) % 30}]` })
        .set('x-request-id', `req-${i}`)
        .then((res) => ({ i, route, res }));
    }),
  );
  await waitFor(() => ended.length >= 100);
  const expectedCalls = { invoke: 1, stream: 1, batch: 3, agent: 2 };
  for (const { i, route, res } of responses) {
    expect(res.status, `${route} ${i}`).toBe(200);
    const usage = route === 'stream' ? res.body.usage : res.body;
    const stub = stubTotals(`r${i}`);
    expect(stub.calls, `${route} ${i}`).toBe(expectedCalls[route]);
    // What the route read from req.portkey.usage, and what onRequestEnd got: the provider's figures.
    const end = ended.filter((e) => e.summary.traceId === `req-${i}`);
    expect(end, `onRequestEnd for ${route} ${i}`).toHaveLength(1);
    for (const summary of [usage, end[0]!.summary]) {
      expect(summary).toMatchObject({ ...stub, failed: 0, inFlight: 0 });
      expect(summary.entries).toHaveLength(expectedCalls[route]);
      for (const entry of summary.entries) {
        expect(entry.traceId).toBe(`req-${i}`);
        expect(entry).toMatchObject({ model: 'gpt-4o-mini', status: 200, stream: route === 'stream' });
        expect(entry.latencyMs).toBeGreaterThan(0);
        if (route === 'stream') expect(entry.timeToFirstTokenMs).toBeGreaterThan(0);
      }
    }
    expect(end[0]!.summary).toMatchObject({ statusCode: 200, clientDisconnected: false });
    expect(res.headers['server-timing']).toMatch(new RegExp(`^portkey;dur=[\\d.]+;desc="${expectedCalls[route]} calls, ${stub.totalTokens} tokens"$`));
  }
  // Streaming usage came from stream_options.include_usage, asked of the provider.
  for (const sent of stack.stub.requests.filter((s) => s.body?.stream)) expect(sent.body.stream_options).toEqual({ include_usage: true });
  expect(ended).toHaveLength(100);
});

it('retries the gateway made (its config\'s retry) are counted from x-portkey-retry-attempt-count', async () => {
  let seen = 0;
  stack.stub.script(() => (seen++ === 0 ? { status: 500 } : { usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }));
  const res = await request(server.url).get('/retried').query({ q: 'r4 retried' });
  expect(res.status).toBe(200);
  expect(stack.stub.requests).toHaveLength(2);
  expect(stack.gatewayRequests).toHaveLength(1);
  expect(res.body).toMatchObject({ calls: 1, failed: 0, retries: 1, totalTokens: 5 });
  expect(res.body.entries[0]).toMatchObject({ retries: 1, status: 200 });
});

it('a failed call is in the ledger with its error (no key in it); onRequestEnd runs once, with the status the app sent', async () => {
  stack.stub.script(() => ({ status: 500, json: { error: { message: 'provider exploded (key sk-stub-provider-key)' } } }));
  const res = await request(server.url).get('/fails').query({ q: 'r1 fails' }).set('x-request-id', 'req-fail');
  expect(res.status).toBe(502);
  expect(res.body.usage).toMatchObject({ calls: 1, failed: 1, totalTokens: 0 });
  const [entry] = res.body.usage.entries;
  expect(entry.status).toBe(500);
  expect(entry.error).toContain('provider exploded');
  expect(entry.error).toContain('[Portkey trace ID: req-fail]');
  expect(entry.error).not.toContain('sk-stub-provider-key');
  await waitFor(() => ended.length === 1);
  expect(ended[0]!.summary).toMatchObject({ traceId: 'req-fail', statusCode: 502, failed: 1, clientDisconnected: false });
});

it('a client that disconnects: the call is aborted, and onRequestEnd runs once, after it settled, saying so', async () => {
  stack.stub.script(() => ({ delayMs: 5_000 }));
  const open = openRequest(`${server.url}/slow?q=r2`, {});
  await waitFor(() => stack.stub.requests.length === 1);
  open.leave();
  await waitFor(() => ended.length === 1);
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(ended).toHaveLength(1);
  const { summary } = ended[0]!;
  expect(ended[0]!.url).toBe('/slow?q=r2');
  expect(summary).toMatchObject({ clientDisconnected: true, calls: 1, failed: 1, inFlight: 0 });
  expect(summary.entries[0]!.error).toMatch(/closed the connection|abort/i);
  expect(summary.durationMs).toBeLessThan(2_000);
});

it('maxTokensPerRequest: once the recorded tokens reach the budget, the next call is refused before it is sent', async () => {
  stack.stub.script(() => ({ usage: { prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 } }));
  const res = await request(budgetServer.url).get('/until-refused').query({ tag: 'r3' });
  // 30 + 30 = 60 reaches the budget of 60: the third call is refused.
  expect(res.body.answers).toHaveLength(2);
  expect(res.body.refused.code).toBe('TOKEN_BUDGET_EXCEEDED');
  expect(res.body.refused.message).toContain('maxTokensPerRequest: 60');
  expect(res.body.usage).toMatchObject({ calls: 2, totalTokens: 60 });
  expect(stack.gatewayRequests).toHaveLength(2);
  expect(stack.stub.requests).toHaveLength(2);
});
