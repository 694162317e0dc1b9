/**
 * The Vercel AI SDK (`ai` 6) in a real Express app, through the real Portkey gateway, with one
 * `createPortkey()` provider for the whole app. What the gateway saw is read at the recording
 * proxy, what the provider saw at the stub.
 */
import { type APICallError, generateObject, generateText, stepCountIs, streamText, tool } from 'ai';
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { portkeyMiddleware } from 'portkey-context/express';
import { createPortkey, type PortkeyCallOptions, portkeyResponseMetadata } from 'portkey-context/ai-sdk';
import { openRequest, serveOnLoopback, waitUntil } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';
import { aiSdkReplies } from './scripted-replies.js';

const stack = useGatewayStack();
let server: { url: string; close(): Promise<void> };
/** What each route's call ended in: 'answered', or the error's name. */
const outcomes: string[] = [];
const errors: unknown[] = [];
/** Cities the slow tool was run for. */
const toolRuns: string[] = [];

const metadataOf = (headers: Record<string, unknown>) => JSON.parse(String(headers['x-portkey-metadata'] ?? '{}'));

/** A stand-in for passport, after the middleware: `req.user` from a test header. */
function fakeAuth(req: Request, _res: Response, next: NextFunction) {
  const id = req.header('x-user');
  if (id) (req as { user?: unknown }).user = { id };
  next();
}

/** A route's per-call Portkey options, from the request body's `tag`. */
const tagged = (tag: unknown) =>
  typeof tag === 'string' ? { portkey: { metadata: { feature: tag }, cacheNamespace: `ns-${tag}` } satisfies PortkeyCallOptions } : undefined;

beforeAll(async () => {
  // One provider for the whole app, as users keep it; routing to the stub through the gateway.
  const portkey = createPortkey({ apiKey: 'pk-ai-sdk', baseURL: stack.baseURL, ...stack.providerOptions });
  const model = portkey('gpt-4o-mini');
  const unrouted = createPortkey({ apiKey: 'pk-ai-sdk', baseURL: stack.baseURL })('gpt-4o-mini');
  const routedByConfig = createPortkey({
    apiKey: 'pk-ai-sdk',
    baseURL: stack.baseURL,
    config: { provider: 'openai', api_key: 'sk-from-config', custom_host: stack.stub.baseURL },
  }).chatModel('gpt-4o-mini');
  const weather = tool({
    description: 'Weather for a city',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => `sunny in ${city}`,
  });

  const slowWeather = tool({
    description: 'Weather for a city, slowly',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      toolRuns.push(city);
      await new Promise((r) => setTimeout(r, 300));
      return `sunny in ${city}`;
    },
  });

  const app = express();
  app.use(portkeyMiddleware());
  app.use(express.json());
  app.use(fakeAuth);
  const settle = (res: Response, work: () => Promise<unknown>) =>
    work().then(
      (body) => {
        outcomes.push('answered');
        res.json(body);
      },
      (error) => {
        outcomes.push(error?.name ?? 'unknown');
        errors.push(error);
        if (!res.headersSent && !res.destroyed) res.status(502).json({ name: error?.name, message: error?.message });
      },
    );
  app.post('/generate', (req, res) =>
    settle(res, async () => {
      const result = await generateText({ model, prompt: req.body.q, providerOptions: tagged(req.body.tag) });
      return { text: result.text, portkey: portkeyResponseMetadata(result) };
    }),
  );
  app.post('/stream', (req, res) => {
    const result = streamText({
      model,
      prompt: req.body.q,
      providerOptions: tagged(req.body.tag),
      onError: ({ error }) => {
        outcomes.push((error as Error)?.name ?? 'unknown');
      },
      onFinish: () => {
        outcomes.push('streamed');
      },
    });
    result.pipeTextStreamToResponse(res);
  });
  app.post('/tools', (req, res) =>
    settle(res, async () => {
      const result = await generateText({ model, prompt: req.body.q, tools: { get_weather: weather }, stopWhen: stepCountIs(3) });
      return { text: result.text, steps: result.steps.length };
    }),
  );
  app.post('/tools-slow', (req, res) =>
    settle(res, async () => {
      const result = await generateText({ model, prompt: req.body.q, tools: { get_weather: slowWeather }, stopWhen: stepCountIs(3) });
      return { text: result.text };
    }),
  );
  app.post('/object', (req, res) =>
    settle(res, async () => {
      const result = await generateObject({ model, schema: z.object({ city: z.string(), temperatureC: z.number() }), prompt: req.body.q });
      return result.object;
    }),
  );
  app.post('/twice', (req, res) =>
    settle(res, async () => {
      // The first call tagged, with a body setting of another provider key; the second plain.
      const first = await generateText({
        model,
        prompt: `${req.body.q} (tagged)`,
        providerOptions: { ...tagged('summary'), openaiCompatible: { user: 'end-user-7' } },
      });
      const second = await generateText({ model, prompt: `${req.body.q} (plain)` });
      return { texts: [first.text, second.text] };
    }),
  );
  app.post('/unrouted', (req, res) => settle(res, () => generateText({ model: unrouted, prompt: req.body.q, maxRetries: 0 })));
  app.post('/by-config', (req, res) => settle(res, async () => ({ text: (await generateText({ model: routedByConfig, prompt: req.body.q })).text })));
  server = await serveOnLoopback(app);
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => {
  stack.stub.script(aiSdkReplies);
  outcomes.length = 0;
  errors.length = 0;
  toolRuns.length = 0;
});

describe('createPortkey() in an Express app (ai 6, real gateway)', () => {
  it('50 overlapping requests from 50 users through generateText, streamText and a tool loop: every gateway request carries its own trace ID and _user', async () => {
    const routes = ['generate', 'stream', 'tools'] as const;
    const question = (i: number) => `user-${i} asks [slow:${(i * 7) % 40}]`;
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const route = routes[i % 3]!;
        return request(server.url)
          .post(`/${route}`)
          .set('x-request-id', `req-${i}`)
          .set('x-user', `user-${i}`)
          .send({ q: question(i) })
          .then((res) => ({ i, route, res }));
      }),
    );
    for (const { i, route, res } of replies) {
      expect(res.status, `${route} ${i}`).toBe(200);
      expect(res.headers['x-portkey-trace-id']).toBe(`req-${i}`);
      if (route === 'generate') expect(res.body).toEqual({ text: `echo: ${question(i)}`, portkey: expect.objectContaining({ traceId: `req-${i}`, provider: 'openai' }) });
      if (route === 'stream') expect(res.text).toBe(`echo: ${question(i)}`);
      if (route === 'tools') expect(res.body).toEqual({ text: 'final answer after tool: sunny in Paris', steps: 2 });
    }

    // 17 generate + 17 stream + 16 tool loops of two model calls each
    expect(stack.gatewayRequests).toHaveLength(17 + 17 + 16 * 2);
    let misattributed = 0;
    for (const sent of stack.gatewayRequests) {
      const firstUserText: string = sent.body.messages.find((m: any) => m.role === 'user').content;
      const i = Number(/^user-(\d+) /.exec(firstUserText)![1]);
      if (sent.headers['x-portkey-trace-id'] !== `req-${i}` || metadataOf(sent.headers)._user !== `user-${i}`) misattributed++;
      expect(sent.headers['x-portkey-api-key']).toBe('pk-ai-sdk');
      expect(sent.headers.authorization).toBe(stack.providerOptions.authorization); // provider auth configured
      expect(sent.response?.status).toBe(200);
    }
    expect(misattributed).toBe(0);
    // streamed calls streamed, and asked for usage
    const streamed = stack.gatewayRequests.filter((r) => r.body.stream === true);
    expect(streamed).toHaveLength(17);
    for (const sent of streamed) expect(sent.body.stream_options).toEqual({ include_usage: true });
  });

  it('generateObject: the schema reaches the provider as a json_schema response format, the object comes back', async () => {
    const res = await request(server.url).post('/object').set('x-request-id', 'object-1').set('x-user', 'ada').send({ q: 'weather in Paris as JSON' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ city: 'Paris', temperatureC: 21 });
    const upstream = stack.stub.requests[0]!.body;
    expect(upstream.response_format.type).toBe('json_schema');
    expect(upstream.response_format.json_schema.schema.properties).toEqual({ city: { type: 'string' }, temperatureC: { type: 'number' } });
    expect(stack.gatewayRequests[0]!.headers['x-portkey-trace-id']).toBe('object-1');
    expect(metadataOf(stack.gatewayRequests[0]!.headers)._user).toBe('ada');
  });

  it('a tool call: the tool is offered, called, and its result sent back, both model calls in the request\'s trace', async () => {
    const res = await request(server.url).post('/tools').set('x-request-id', 'tools-1').set('x-user', 'ada').send({ q: 'weather?' });
    expect(res.body).toEqual({ text: 'final answer after tool: sunny in Paris', steps: 2 });
    const [offer, answer] = stack.stub.requests.map((r) => r.body);
    expect(offer.tools.map((t: any) => t.function.name)).toEqual(['get_weather']);
    expect(answer.messages.at(-2).tool_calls[0].function).toEqual({ name: 'get_weather', arguments: '{"city":"Paris"}' });
    expect(answer.messages.at(-1)).toMatchObject({ role: 'tool', content: 'sunny in Paris' });
    expect(stack.gatewayRequests.map((r) => r.headers['x-portkey-trace-id'])).toEqual(['tools-1', 'tools-1']);
  });

  it("providerOptions.portkey applies to its call only, and reaches neither the gateway's nor the provider's request body", async () => {
    const res = await request(server.url).post('/twice').set('x-request-id', 'twice-1').set('x-user', 'grace').send({ q: 'hello' });
    expect(res.body).toEqual({ texts: ['echo: hello (tagged)', 'echo: hello (plain)'] });
    const [first, second] = stack.gatewayRequests;
    expect(metadataOf(first!.headers)).toMatchObject({ _user: 'grace', feature: 'summary' });
    expect(first!.headers['x-portkey-cache-namespace']).toBe('ns-summary');
    expect(metadataOf(second!.headers)).toEqual(expect.not.objectContaining({ feature: expect.anything() }));
    expect(metadataOf(second!.headers)._user).toBe('grace');
    expect(second!.headers['x-portkey-cache-namespace']).toBeUndefined();
    expect([first!.headers['x-portkey-trace-id'], second!.headers['x-portkey-trace-id']]).toEqual(['twice-1', 'twice-1']);
    // Only `portkey` is taken out: another key's body settings still reach the provider.
    expect(stack.stub.requests[0]!.body.user).toBe('end-user-7');
    for (const body of [...stack.gatewayRequests, ...stack.stub.requests].map((r) => JSON.stringify(r.body))) {
      expect(body).not.toMatch(/summary|ns-summary|portkey|feature|metadata/);
    }
  });

  it('providerOptions.portkey on streamText, then a plain stream in the next request', async () => {
    const tagged = await request(server.url).post('/stream').set('x-request-id', 'stream-tagged').send({ q: 'streamed', tag: 'live' });
    const plain = await request(server.url).post('/stream').set('x-request-id', 'stream-plain').send({ q: 'streamed again' });
    expect([tagged.text, plain.text]).toEqual(['echo: streamed', 'echo: streamed again']);
    const [first, second] = stack.gatewayRequests;
    expect(metadataOf(first!.headers).feature).toBe('live');
    expect(first!.headers['x-portkey-cache-namespace']).toBe('ns-live');
    expect(metadataOf(second!.headers).feature).toBeUndefined();
    expect(second!.headers['x-portkey-cache-namespace']).toBeUndefined();
    for (const sent of stack.stub.requests) expect(JSON.stringify(sent.body)).not.toMatch(/live|portkey/);
  });

  it('a gateway error keeps the gateway\'s message and ends in the trace ID; without provider auth no Authorization reaches the gateway', async () => {
    const res = await request(server.url).post('/unrouted').set('x-request-id', 'unrouted-1').send({ q: 'hi' });
    expect(res.status).toBe(502);
    expect(res.body.name).toBe('AI_APICallError');
    expect(res.body.message).toMatch(/^Portkey gateway: .+ \[Portkey trace ID: unrouted-1\]$/);
    const error = errors[0] as APICallError;
    expect(error.statusCode).toBe(400);
    expect(stack.gatewayRequests).toHaveLength(1);
    expect(stack.gatewayRequests[0]!.headers.authorization).toBeUndefined();
    expect(stack.gatewayRequests[0]!.headers['x-portkey-api-key']).toBe('pk-ai-sdk');
    expect(stack.stub.requests).toHaveLength(0);
  });

  it("a provider's error comes back with its message (keys redacted), the trace ID, and the gateway's response headers on the error", async () => {
    // A provider that echoes the key it was sent: the error shows it redacted.
    stack.stub.script((_body, req) => ({ status: 400, json: { error: { message: `context length exceeded (key ${req.headers.authorization})`, type: 'invalid_request_error' } } }));
    const res = await request(server.url).post('/generate').set('x-request-id', 'upstream-1').send({ q: 'too long' });
    expect(res.status).toBe(502);
    expect(res.body.message).toMatch(/context length exceeded \(key \[redacted\]\).* \[Portkey trace ID: upstream-1\]$/);
    expect(JSON.stringify(errors[0], Object.getOwnPropertyNames(errors[0]))).not.toContain('sk-stub-provider-key');
    expect(portkeyResponseMetadata(errors[0] as APICallError)).toMatchObject({ traceId: 'upstream-1', provider: 'openai' });
    expect(stack.stub.requests).toHaveLength(1); // a 400 is not retried
  });

  it("the AI SDK's own retries of a 429 carry the request's context too", async () => {
    let calls = 0;
    stack.stub.script(() => (calls++ === 0 ? { status: 429, headers: { 'retry-after-ms': '10' } } : undefined));
    const res = await request(server.url).post('/generate').set('x-request-id', 'retried-1').set('x-user', 'ada').send({ q: 'again' });
    expect(res.body.text).toBe('echo: again');
    expect(stack.gatewayRequests.map((r) => [r.response?.status, r.headers['x-portkey-trace-id'], metadataOf(r.headers)._user])).toEqual([
      [429, 'retried-1', 'ada'],
      [200, 'retried-1', 'ada'],
    ]);
  });

  it('provider auth in a config: no Authorization header from the app, the config\'s key reaches the provider', async () => {
    const res = await request(server.url).post('/by-config').set('x-request-id', 'config-1').send({ q: 'routed by config' });
    expect(res.body).toEqual({ text: 'echo: routed by config' });
    expect(stack.gatewayRequests[0]!.headers.authorization).toBeUndefined();
    expect(stack.stub.requests[0]!.headers.authorization).toBe('Bearer sk-from-config');
  });
});

describe('client disconnects', () => {
  it('generateText: the gateway request is closed within 100 ms of the client leaving', async () => {
    stack.stub.script(() => ({ hang: true }));
    const client = openRequest(`${server.url}/generate`, { q: 'never answered' });
    await waitUntil(() => stack.stub.requests.length === 1);
    const leftAt = client.leave();
    await waitUntil(() => stack.gatewayRequests[0]?.closedAt !== undefined, 2000);
    expect(stack.gatewayRequests[0]!.clientAborted).toBe(true);
    expect(stack.gatewayRequests[0]!.closedAt! - leftAt).toBeLessThan(100);
    await waitUntil(() => outcomes.length === 1);
    // The context's abort reason, as the AI SDK threw it: not an APICallError, so never retried.
    expect(outcomes).toEqual(['PortkeyContextError']);
    expect(errors[0]).toMatchObject({ code: 'CLIENT_DISCONNECTED', traceId: stack.gatewayRequests[0]!.headers['x-portkey-trace-id'] });
  });

  it("a tool loop: a client leaving while a tool runs, the loop's next model call is never sent", async () => {
    const client = openRequest(`${server.url}/tools-slow`, { q: 'weather, slowly' });
    await waitUntil(() => toolRuns.length === 1);
    client.leave();
    await waitUntil(() => outcomes.length === 1, 2000);
    expect(outcomes).toEqual(['PortkeyContextError']);
    expect(errors[0]).toMatchObject({ code: 'CLIENT_DISCONNECTED' });
    expect(stack.gatewayRequests).toHaveLength(1); // the step that offered the tool; its answer never went out
    expect(stack.gatewayRequests[0]!.clientAborted).toBe(false);
  });

  it('streamText: a client leaving mid-stream closes the gateway stream within 100 ms', async () => {
    stack.stub.script(() => ({ chunkDelayMs: 300, content: 'a slow streamed answer that takes seconds' }));
    const client = openRequest(`${server.url}/stream`, { q: 'slow stream' });
    await client.firstData;
    const leftAt = client.leave();
    await waitUntil(() => stack.gatewayRequests[0]?.closedAt !== undefined, 2000);
    expect(stack.gatewayRequests[0]!.clientAborted).toBe(true);
    expect(stack.gatewayRequests[0]!.closedAt! - leftAt).toBeLessThan(100);
    expect(stack.stub.requests[0]!.completed).toBe(false);
    expect(outcomes).not.toContain('streamed');
  });
});
