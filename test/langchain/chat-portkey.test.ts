import { tool } from '@langchain/core/tools';
import { createAgent } from 'langchain';
import { beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PortkeyContextError, runWithPortkeyContext, withPortkeyOverrides } from 'portkey-context';
import { ChatPortkey, portkeyResponseMetadata } from 'portkey-context/langchain';
import { type RecordedGatewayRequest, serveOnLoopback } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';
import { toolUsingModel } from './scripted-replies.js';

const stack = useGatewayStack();
beforeEach(() => {
  stack.stub.script(toolUsingModel);
});

function makeModel(extra: Record<string, unknown> = {}) {
  return new ChatPortkey({
    model: 'gpt-4o-mini',
    apiKey: 'pk-model-key',
    baseURL: stack.baseURL,
    ...stack.providerOptions,
    maxRetries: 0,
    ...extra,
  });
}
const header = (r: RecordedGatewayRequest, name: string) => r.headers[name] as string | undefined;
const metadataOf = (r: RecordedGatewayRequest) => JSON.parse(header(r, 'x-portkey-metadata') ?? '{}');
const inRequest = <T>(traceId: string, user: string, fn: () => Promise<T>) =>
  runWithPortkeyContext({ traceId, metadata: { _user: user } }, fn);

const weather = tool(async ({ city }: { city: string }) => `sunny in ${city}`, {
  name: 'get_weather',
  description: 'Weather for a city',
  schema: z.object({ city: z.string() }),
});

describe('ChatPortkey through the real gateway', () => {
  it('invoke: sends the request context, the model keys, a span, and stays on Chat Completions', async () => {
    const model = makeModel();
    const reply = await inRequest('trace-invoke', 'alice', () => model.invoke('hello'));
    expect(reply.content).toBe('echo: hello');
    expect(stack.gatewayRequests).toHaveLength(1);
    const sent = stack.gatewayRequests[0]!;
    expect(sent.path).toBe('/v1/chat/completions');
    expect(header(sent, 'x-portkey-trace-id')).toBe('trace-invoke');
    expect(metadataOf(sent)).toEqual({ _user: 'alice' });
    expect(header(sent, 'x-portkey-api-key')).toBe('pk-model-key');
    expect(header(sent, 'x-portkey-provider')).toBe('openai');
    expect(header(sent, 'x-portkey-span-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(header(sent, 'x-portkey-span-name')).toBe('ChatPortkey');
    expect(stack.stub.requests[0]!.headers.authorization).toBe('Bearer sk-stub-provider-key');
    // the standard contract
    expect(reply.usage_metadata).toMatchObject({ input_tokens: 11, output_tokens: 7, total_tokens: 18 });
    expect(reply.response_metadata.model_name).toBe('gpt-4o-mini');
    expect(reply.response_metadata.portkey).toEqual({
      traceId: 'trace-invoke',
      provider: 'openai',
      retryAttemptCount: 0,
      cacheStatus: 'DISABLED',
      lastUsedOptionIndex: 'config',
    });
  });

  it('sends no provider key when none is configured (virtual key only)', async () => {
    const model = new ChatPortkey({ model: 'gpt-4o-mini', apiKey: 'pk-x', virtualKey: 'vk-1', baseURL: stack.baseURL, maxRetries: 0 });
    await model.invoke('no key').catch(() => undefined); // the local gateway has no vault: the answer does not matter
    const sent = stack.gatewayRequests[0]!;
    expect(header(sent, 'x-portkey-virtual-key')).toBe('vk-1');
    expect(sent.headers.authorization).toBeUndefined();
  });

  it('stream: chunks concatenate to the full message and carry the context and response metadata', async () => {
    const model = makeModel();
    const chunks = await inRequest('trace-stream', 'bob', async () => {
      const out = [];
      for await (const chunk of await model.stream('streamed words')) out.push(chunk);
      return out;
    });
    expect(chunks.length).toBeGreaterThan(3);
    const full = chunks.reduce((a, b) => a.concat(b));
    expect(full.content).toBe('echo: streamed words');
    expect(full.usage_metadata).toMatchObject({ input_tokens: 11, output_tokens: 7 });
    expect(full.response_metadata.portkey).toMatchObject({ traceId: 'trace-stream', provider: 'openai' });
    const sent = stack.gatewayRequests[0]!;
    expect(sent.body.stream).toBe(true);
    expect(header(sent, 'x-portkey-trace-id')).toBe('trace-stream');
    expect(metadataOf(sent)._user).toBe('bob');
  });

  it('streaming: true invoke works offline (no tokenizer download)', async () => {
    const model = makeModel({ streaming: true });
    const reply = await inRequest('trace-offline', 'carol', () => model.invoke('count my tokens'));
    expect(reply.content).toBe('echo: count my tokens');
    expect(portkeyResponseMetadata(reply)?.traceId).toBe('trace-offline');
    expect(header(stack.gatewayRequests[0]!, 'x-portkey-trace-id')).toBe('trace-offline');
  });

  it('batch: every call carries the context of the request that made it', async () => {
    const model = makeModel();
    const replies = await inRequest('trace-batch', 'dave', () => model.batch(['one', 'two', 'three'], { maxConcurrency: 2 }));
    expect(replies.map((r) => r.content)).toEqual(['echo: one', 'echo: two', 'echo: three']);
    expect(stack.gatewayRequests).toHaveLength(3);
    for (const sent of stack.gatewayRequests) {
      expect(header(sent, 'x-portkey-trace-id')).toBe('trace-batch');
      expect(metadataOf(sent)._user).toBe('dave');
    }
    expect(new Set(stack.gatewayRequests.map((r) => header(r, 'x-portkey-span-id'))).size).toBe(3);
  });

  it('bindTools: tool calls are parsed, and the bound model is still ChatPortkey', async () => {
    const model = makeModel();
    const bound = model.bindTools([weather]);
    expect((bound as any).bound).toBe(model);
    const reply = await inRequest('trace-tools', 'erin', () => bound.invoke('weather in Paris?'));
    expect(reply.tool_calls).toEqual([expect.objectContaining({ name: 'get_weather', args: { city: 'Paris' } })]);
    const sent = stack.gatewayRequests[0]!;
    expect(sent.body.tools[0].function.name).toBe('get_weather');
    expect(header(sent, 'x-portkey-trace-id')).toBe('trace-tools');
    expect(header(sent, 'x-portkey-api-key')).toBe('pk-model-key');
  });

  it('withStructuredOutput (json schema and function calling) keeps the context', async () => {
    const model = makeModel();
    const schema = z.object({ answer: z.string(), confidence: z.number() });
    const viaSchema = await inRequest('trace-structured', 'frank', () => model.withStructuredOutput(schema).invoke('q1'));
    expect(viaSchema).toEqual({ answer: 'structured: q1', confidence: 0.9 });
    const viaTools = await inRequest('trace-structured-2', 'frank', () =>
      model.withStructuredOutput(schema, { method: 'functionCalling' }).invoke('q2'),
    );
    expect(viaTools).toEqual({ answer: 'forced: q2', confidence: 0.5 });
    expect(stack.gatewayRequests.map((r) => header(r, 'x-portkey-trace-id'))).toEqual(['trace-structured', 'trace-structured-2']);
    expect(stack.gatewayRequests.every((r) => r.path === '/v1/chat/completions')).toBe(true);
  });

  it('streamEvents: the streamed call carries the context', async () => {
    const model = makeModel();
    const events: string[] = [];
    await inRequest('trace-events', 'gina', async () => {
      for await (const event of model.streamEvents('evented', { version: 'v2' })) events.push(event.event);
    });
    expect(events).toContain('on_chat_model_stream');
    expect(header(stack.gatewayRequests[0]!, 'x-portkey-trace-id')).toBe('trace-events');
    expect(metadataOf(stack.gatewayRequests[0]!)._user).toBe('gina');
  });

  it('streamEvents (the content-block protocol, no version): the call carries the context', async () => {
    const model = makeModel();
    const kinds = new Set<string>();
    await inRequest('trace-events-v3', 'gus', async () => {
      for await (const event of model.streamEvents('content blocks') as AsyncIterable<{ event: string }>) kinds.add(event.event);
    });
    expect(kinds.size).toBeGreaterThan(0);
    expect(stack.gatewayRequests).toHaveLength(1);
    expect(header(stack.gatewayRequests[0]!, 'x-portkey-trace-id')).toBe('trace-events-v3');
    expect(metadataOf(stack.gatewayRequests[0]!)._user).toBe('gus');
  });

  it('createAgent (invoke and stream): every model call carries the context and hangs under its agent step', async () => {
    const model = makeModel();
    const agent = createAgent({ model, tools: [weather] });
    const result = await inRequest('trace-agent', 'hank', () => agent.invoke({ messages: [{ role: 'user', content: 'weather?' }] }));
    expect(String(result.messages.at(-1)!.content)).toBe('final answer after tool: sunny in Paris');
    expect(stack.gatewayRequests).toHaveLength(2);
    for (const sent of stack.gatewayRequests) {
      expect(header(sent, 'x-portkey-trace-id')).toBe('trace-agent');
      expect(metadataOf(sent)._user).toBe('hank');
      expect(header(sent, 'x-portkey-span-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(header(sent, 'x-portkey-parent-span-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
    const [first, second] = stack.gatewayRequests;
    expect(header(first!, 'x-portkey-span-id')).not.toBe(header(second!, 'x-portkey-span-id'));

    stack.reset();
    stack.stub.script(toolUsingModel);
    const streamed = await inRequest('trace-agent-stream', 'ivy', async () => {
      const out = [];
      for await (const step of await agent.stream({ messages: [{ role: 'user', content: 'weather?' }] }, { streamMode: 'values' })) out.push(step);
      return out;
    });
    expect(streamed.length).toBeGreaterThan(1);
    expect(stack.gatewayRequests).toHaveLength(2);
    for (const sent of stack.gatewayRequests) {
      expect(header(sent, 'x-portkey-trace-id')).toBe('trace-agent-stream');
      expect(metadataOf(sent)._user).toBe('ivy');
    }
  });

  it('span tree: with callbacks, span-id is the model run and parent-span-id the agent step run', async () => {
    const model = makeModel();
    const agent = createAgent({ model, tools: [weather] });
    const runs: { kind: string; name?: string; runId: string; parentRunId?: string }[] = [];
    const recorder = {
      handleChainStart: (_c: unknown, _i: unknown, runId: string, parentRunId?: string, _t?: unknown, _m?: unknown, _rt?: unknown, name?: string) =>
        void runs.push({ kind: 'chain', name, runId, parentRunId }),
      handleChatModelStart: (_l: unknown, _m: unknown, runId: string, parentRunId?: string) => void runs.push({ kind: 'llm', runId, parentRunId }),
    };
    await inRequest('trace-spans', 'nia', () => agent.invoke({ messages: [{ role: 'user', content: 'weather?' }] }, { callbacks: [recorder] }));
    expect(stack.gatewayRequests).toHaveLength(2);
    const llmRuns = runs.filter((r) => r.kind === 'llm');
    expect(llmRuns).toHaveLength(2);
    stack.gatewayRequests.forEach((sent, i) => {
      expect(header(sent, 'x-portkey-span-id')).toBe(llmRuns[i]!.runId);
      expect(header(sent, 'x-portkey-parent-span-id')).toBe(llmRuns[i]!.parentRunId);
      const step = runs.find((r) => r.runId === llmRuns[i]!.parentRunId);
      expect(step?.name).toBe('model_request');
      expect(header(sent, 'x-portkey-trace-id')).toBe('trace-spans');
    });
  });

  it('with maxConcurrency: 1, queued calls never carry another request\'s context', async () => {
    const model = makeModel({ maxConcurrency: 1 });
    const users = Array.from({ length: 8 }, (_, i) => `user-${i}`);
    const replies = await Promise.all(
      users.map((user, i) => inRequest(`trace-q-${i}`, user, () => model.invoke(`${user} [slow:${(i % 3) * 15}]`))),
    );
    expect(replies.map((r) => portkeyResponseMetadata(r)?.traceId)).toEqual(users.map((_, i) => `trace-q-${i}`));
    expect(stack.gatewayRequests).toHaveLength(users.length);
    for (const sent of stack.gatewayRequests) {
      const user = metadataOf(sent)._user;
      expect(sent.body.messages[0].content.startsWith(user)).toBe(true);
      expect(header(sent, 'x-portkey-trace-id')).toBe(`trace-q-${user.split('-')[1]}`);
    }
  });

  it('configuration.defaultHeaders in any form reach the gateway; the per-call headers win', async () => {
    const asHeaders = makeModel({ configuration: { defaultHeaders: new Headers({ 'x-team': 'blue', 'x-portkey-trace-id': 'not-this' }) } });
    const asPairs = makeModel({ configuration: { defaultHeaders: [['x-team', 'green']] } });
    await inRequest('trace-defaults', 'eve', () => asHeaders.invoke('one'));
    await inRequest('trace-defaults', 'eve', () => asPairs.invoke('two'));
    expect(stack.gatewayRequests.map((r) => header(r, 'x-team'))).toEqual(['blue', 'green']);
    expect(stack.gatewayRequests.map((r) => header(r, 'x-portkey-trace-id'))).toEqual(['trace-defaults', 'trace-defaults']);
  });

  it('the platform fetch and a fetch of the app own send the same headers; the app fetch is handed a Headers', async () => {
    const handed: unknown[] = [];
    const ownFetch: typeof fetch = (input, init) => {
      handed.push(init?.headers);
      return fetch(input, init);
    };
    const defaultHeaders = { 'X-Team': 'blue', 'x-portkey-trace-id': 'not-this' };
    await inRequest('trace-fetches', 'eve', () => makeModel({ configuration: { defaultHeaders } }).invoke('one'));
    await inRequest('trace-fetches', 'eve', () => makeModel({ configuration: { defaultHeaders, fetch: ownFetch } }).invoke('one'));
    expect(handed).toHaveLength(1);
    expect(handed[0]).toBeInstanceOf(Headers);
    const [platform, own] = stack.gatewayRequests.map(({ headers }) => {
      const { 'x-portkey-span-id': spanId, ...rest } = headers;
      expect(spanId).toMatch(/^[0-9a-f-]{36}$/);
      return rest;
    });
    expect(platform).toEqual(own);
    expect(platform).toMatchObject({ 'x-team': 'blue', 'x-portkey-trace-id': 'trace-fetches', 'x-portkey-api-key': 'pk-model-key' });
    // The openai SDK's self-description (x-stainless-*) is not sent; its User-Agent is.
    expect(Object.keys(platform!).filter((name) => name.startsWith('x-stainless-'))).toEqual([]);
    expect(platform!['user-agent']).toMatch(/^langchainjs-openai\//); // LangChain's
    expect(stack.stub.requests.map((r) => r.headers.authorization)).toEqual(['Bearer sk-stub-provider-key', 'Bearer sk-stub-provider-key']);
  });

  it('runName names the span (invoke and stream); a model-level spanName is the default name', async () => {
    await inRequest('trace-names', 'dan', () => makeModel().invoke('named', { runName: 'summarizer' }));
    await inRequest('trace-names', 'dan', async () => {
      for await (const _ of await makeModel().stream('named', { runName: 'streamer' }));
    });
    await inRequest('trace-names', 'dan', () => makeModel({ spanName: 'support-bot' }).invoke('default name'));
    expect(stack.gatewayRequests.map((r) => header(r, 'x-portkey-span-name'))).toEqual(['summarizer', 'streamer', 'support-bot']);
  });

  it('precedence: model options < request context < withPortkeyOverrides < per-call portkey option', async () => {
    const model = makeModel({ cacheNamespace: 'model-ns', metadata: { app: 'shop', tier: 'model' } });
    await runWithPortkeyContext(
      { traceId: 'trace-prec', metadata: { _user: 'jo', tier: 'request' }, options: { cacheNamespace: 'request-ns' } },
      () =>
        withPortkeyOverrides({ cacheNamespace: 'scope-ns', metadata: { feature: 'summary' } }, async () => {
          await model.invoke('a', { portkey: { cacheNamespace: 'call-ns', cacheForceRefresh: true, metadata: { tier: 'call' } } });
          await model.invoke('b');
        }),
    );
    const [withCall, without] = stack.gatewayRequests;
    expect(header(withCall!, 'x-portkey-cache-namespace')).toBe('call-ns');
    expect(header(withCall!, 'x-portkey-cache-force-refresh')).toBe('true');
    expect(metadataOf(withCall!)).toEqual({ app: 'shop', tier: 'call', _user: 'jo', feature: 'summary' });
    // the per-call option did not leak into the next call
    expect(header(without!, 'x-portkey-cache-namespace')).toBe('scope-ns');
    expect(header(without!, 'x-portkey-cache-force-refresh')).toBeUndefined();
    expect(metadataOf(without!)).toEqual({ app: 'shop', tier: 'request', _user: 'jo', feature: 'summary' });
    expect(header(without!, 'x-portkey-trace-id')).toBe('trace-prec');
  });

  it('outside any request context it still works, with the model options only', async () => {
    const model = makeModel({ traceId: 'static-trace' });
    await model.invoke('background');
    expect(header(stack.gatewayRequests[0]!, 'x-portkey-trace-id')).toBe('static-trace');
    expect(header(stack.gatewayRequests[0]!, 'x-portkey-metadata')).toBeUndefined();
  });
});

describe('ChatPortkey errors', () => {
  it('a gateway error keeps its status, message and trace ID, and shows no key', async () => {
    const model = makeModel({ config: { retry: { attempts: 'many' } }, authorization: 'Bearer sk-very-secret-provider' });
    const error: any = await inRequest('trace-err', 'kim', () => model.invoke('x')).catch((e) => e);
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/^400 Portkey gateway: /);
    expect(error.message).not.toMatch(/no body/);
    expect(error.message).toContain('trace-err');
    expect(error.message).not.toContain('sk-very-secret-provider');
    expect(error.message).not.toContain('pk-model-key');
  });

  it('an upstream error passes through with its message', async () => {
    stack.stub.script(() => ({ status: 429, json: { error: { message: 'Rate limit reached for requests', type: 'requests' } } }));
    const model = makeModel();
    const error: any = await inRequest('trace-429', 'lee', () => model.invoke('x')).catch((e) => e);
    expect(error.status).toBe(429);
    expect(error.message).toContain('Rate limit reached');
    expect(error.message).toContain('trace-429');
  });

  it('a refused connection names the gateway URL', async () => {
    const closed = await serveOnLoopback(() => undefined);
    await closed.close(); // a port that was just free: nothing listens there now
    const baseURL = `${closed.url}/v1`;
    const model = new ChatPortkey({ model: 'gpt-4o-mini', apiKey: 'pk-secret-key', baseURL, maxRetries: 0 });
    const error: any = await inRequest('trace-down', 'max', () => model.invoke('x')).catch((e) => e);
    expect(error.message).toContain(baseURL);
    expect(error.message).toContain('trace-down');
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(error.message).not.toContain('pk-secret-key');
  });

  it('refuses header-unsafe options at construction and per call', async () => {
    expect(() => makeModel({ virtualKey: 'vk\r\nx-evil: 1' })).toThrow(PortkeyContextError);
    const model = makeModel();
    await expect(model.invoke('x', { portkey: { traceId: 'bad\ntrace' } })).rejects.toThrow(/"traceId"/);
    expect(stack.gatewayRequests).toHaveLength(0);
  });
});

describe('ChatPortkey as a LangChain model', () => {
  it('serializes without any key, and names itself', () => {
    const model = makeModel({ authorization: 'Bearer sk-provider-secret', awsSecretAccessKey: 'aws-secret-value' });
    const json = JSON.stringify(model);
    expect(json).not.toContain('pk-model-key');
    expect(json).not.toContain('sk-provider-secret');
    expect(json).not.toContain('aws-secret-value');
    expect(json).toContain('"ChatPortkey"');
    expect(ChatPortkey.lc_name()).toBe('ChatPortkey');
    expect(model._llmType()).toBe('portkey');
    const { inspect } = require('node:util') as typeof import('node:util');
    expect(inspect(model, { depth: 6 })).not.toContain('pk-model-key');
  });
});

describe('ChatPortkey serialization and caching', () => {
  it('a serialize -> load() round trip gives an equivalent model: Portkey secret ids, baseURL kept', async () => {
    const { load } = await import('@langchain/core/load');
    const model = makeModel({ virtualKey: 'vk-round-trip', temperature: 0.3, metadata: { app: 'rt' } });
    const json = JSON.stringify(model);
    const parsed = JSON.parse(json);
    expect(parsed.id).toEqual(['langchain', 'chat_models', 'portkey', 'ChatPortkey']);
    expect(parsed.kwargs.apiKey).toEqual({ lc: 1, type: 'secret', id: ['PORTKEY_API_KEY'] });
    expect(parsed.kwargs.virtualKey).toEqual({ lc: 1, type: 'secret', id: ['PORTKEY_VIRTUAL_KEY'] });
    expect(parsed.kwargs.authorization).toEqual({ lc: 1, type: 'secret', id: ['PORTKEY_PROVIDER_AUTHORIZATION'] });
    expect(json).not.toMatch(/OPENAI_API_KEY|openai_api_key/);
    const restored = await load<ChatPortkey>(json, {
      importMap: { chat_models__portkey: { ChatPortkey } },
      secretsMap: { PORTKEY_API_KEY: 'pk-restored', PORTKEY_VIRTUAL_KEY: 'vk-restored', PORTKEY_PROVIDER_AUTHORIZATION: stack.providerOptions.authorization },
    });
    expect(restored).toBeInstanceOf(ChatPortkey);
    expect(restored.baseURL).toBe(model.baseURL);
    expect(restored.temperature).toBe(0.3);
    const reply = await inRequest('trace-restored', 'rita', () => restored.invoke('restored'));
    expect(reply.content).toBe('echo: restored');
    const sent = stack.gatewayRequests[0]!;
    expect(header(sent, 'x-portkey-api-key')).toBe('pk-restored');
    expect(header(sent, 'x-portkey-virtual-key')).toBe('vk-restored');
    expect(header(sent, 'x-portkey-trace-id')).toBe('trace-restored');
  });

  it("with LangChain's cache, a cached reply never shows another request's trace ID", async () => {
    const model = makeModel({ cache: true });
    const first = await inRequest('trace-first', 'ann', () => model.invoke('cache me'));
    expect(portkeyResponseMetadata(first)?.traceId).toBe('trace-first');
    const second = await inRequest('trace-second', 'ben', () => model.invoke('cache me'));
    expect(stack.gatewayRequests).toHaveLength(1); // served from the cache
    expect(second.content).toBe('echo: cache me');
    expect(portkeyResponseMetadata(second)).toBeUndefined();
    expect(JSON.stringify(second)).not.toContain('trace-first');
    // the first caller's message is untouched
    expect(portkeyResponseMetadata(first)?.traceId).toBe('trace-first');
  });

  it('per-call Portkey options never reach callbacks or tracers, and appear in the cache key only as a hash', async () => {
    const seen: unknown[] = [];
    const model = makeModel({ callbacks: [{ handleChatModelStart: (...args: unknown[]) => seen.push(args) }] });
    await inRequest('trace-cb', 'cat', () => model.invoke('hi', { portkey: { virtualKey: 'vk-per-call-secret', metadata: { f: 'x' } } }));
    expect(JSON.stringify(seen)).not.toContain('vk-per-call-secret');
    const extra = (seen[0] as any[])[4];
    expect(extra.options).toBeDefined();
    expect(extra.options.portkey).toBeUndefined();
    expect(header(stack.gatewayRequests[0]!, 'x-portkey-virtual-key')).toBe('vk-per-call-secret'); // yet it was sent
    const key = model._getSerializedCacheKeyParametersForCall({ portkey: { virtualKey: 'vk-per-call-secret', traceId: 't1' } } as never);
    expect(key).not.toContain('vk-per-call-secret');
    expect(key).toBe(model._getSerializedCacheKeyParametersForCall({ portkey: { virtualKey: 'vk-per-call-secret', traceId: 't2' } } as never));
    expect(key).not.toBe(model._getSerializedCacheKeyParametersForCall({ portkey: { virtualKey: 'vk-other' } } as never));
  });
});
