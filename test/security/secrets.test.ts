/**
 * No secret, from any layer, reaches any channel. Distinct secrets are set at every layer (model
 * constructor, middleware options, request context, override scope with an object config, per
 * call, `configuration.defaultHeaders`, a custom host's URL credentials); every error kind is
 * triggered through the real gateway (an upstream that echoes what it received included); and every
 * channel a user or tracer sees is captured and searched.
 */
import { inspect } from 'node:util';
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import { ConsoleCallbackHandler } from '@langchain/core/tracers/console';
import { LangChainTracer } from '@langchain/core/tracers/tracer_langchain';
import { RunCollectorCallbackHandler } from '@langchain/core/tracers/run_collector';
import express from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runWithPortkeyContext, withPortkeyOverrides } from 'portkey-context';
import { portkeyMiddleware } from 'portkey-context/express';
import { ChatPortkey } from 'portkey-context/langchain';
import { serveOnLoopback } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';

const SECRETS = {
  model: 'pk-model-secret-1111',
  middleware: 'aws-middleware-secret-2222',
  context: 'ctx-session-secret-3333',
  scopeConfig: 'cfg-scope-secret-4444',
  call: 'sk-call-secret-5555',
  defaultHeader: 'hdr-default-secret-6666',
  hostCredential: 'host-cred-secret-7777',
  provider: 'sk-stub-provider-key',
};
const ALL = Object.values(SECRETS);

/** Every captured channel, by name. */
const channels: Record<string, string[]> = {};
function capture(channel: string, value: unknown) {
  channels[channel] ??= [];
  channels[channel].push(typeof value === 'string' ? value : inspect(value, { depth: 12, showHidden: true, getters: false }));
  if (typeof value === 'object' && value !== null) {
    try {
      channels[channel]!.push(JSON.stringify(value));
    } catch {}
  }
}

/** Records every argument of every callback LangChain sends. */
class RecordingHandler extends BaseCallbackHandler {
  name = 'recording';
  override handleChatModelStart(...args: unknown[]) {
    capture('callback:handleChatModelStart', args);
  }
  override handleLLMStart(...args: unknown[]) {
    capture('callback:handleLLMStart', args);
  }
  override handleLLMEnd(...args: unknown[]) {
    capture('callback:handleLLMEnd', args);
  }
  override handleLLMError(...args: unknown[]) {
    capture('callback:handleLLMError', args);
  }
}

// Started before this file's own hooks, reset before each test (see beforeEach below).
const stack = useGatewayStack();
let app: { url: string; close(): Promise<void> };
let collector: RunCollectorCallbackHandler;
let consoleLog: ReturnType<typeof vi.spyOn>;

function model(extra: Record<string, unknown> = {}) {
  collector = new RunCollectorCallbackHandler();
  const langsmith = new LangChainTracer({
    projectName: 'secrets-test',
    client: {
      createRun: async (run: unknown) => capture('langsmith:createRun', run),
      updateRun: async (id: string, run: unknown) => capture('langsmith:updateRun', { id, run }),
    } as never,
  });
  return new ChatPortkey({
    model: 'gpt-4o-mini',
    apiKey: SECRETS.model,
    baseURL: stack.baseURL,
    ...stack.providerOptions,
    maxRetries: 0,
    configuration: { defaultHeaders: { 'x-team-token': SECRETS.defaultHeader } },
    callbacks: [new RecordingHandler(), new ConsoleCallbackHandler(), collector, langsmith],
    ...extra,
  });
}

/** Runs `fn` as a request would: context options from "middleware", a scope with an object config. */
function inLayers<T>(fn: () => Promise<T>, scope = true): Promise<T> {
  return runWithPortkeyContext({ traceId: 'secrets-trace', metadata: { _user: 'u1' }, options: { awsSessionToken: SECRETS.context, awsSecretAccessKey: SECRETS.middleware } }, () =>
    scope
      ? withPortkeyOverrides(
          { config: { provider: 'openai', custom_host: stack.stub.baseURL, api_key: SECRETS.scopeConfig, retry: { attempts: 0 } } },
          fn,
        )
      : fn(),
  );
}

async function failWith(fn: () => Promise<unknown>, label: string) {
  const error: any = await fn().then(
    () => undefined,
    (e) => e,
  );
  expect(error, `${label} should fail`).toBeDefined();
  capture(`error:${label}:message`, String(error.message));
  capture(`error:${label}:stack`, String(error.stack));
  capture(`error:${label}:inspect`, inspect(error, { depth: 12, showHidden: true }));
  capture(`error:${label}:json`, JSON.stringify(error));
  capture(`error:${label}:cause`, inspect(error.cause, { depth: 12 }));
  return error;
}

beforeAll(async () => {
  consoleLog = vi.spyOn(console, 'log').mockImplementation((...args) => capture('console.log', args.map(String).join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...args) => capture('console.error', args.map(String).join(' ')));

  const server = express();
  server.set('env', 'development'); // Express's default error page then shows the stack
  server.use(portkeyMiddleware({ awsSecretAccessKey: SECRETS.middleware }));
  const pageModel = model();
  server.get('/chat', async (_req, _res) => {
    await pageModel.invoke('hi', { portkey: { authorization: `Bearer ${SECRETS.call}` } });
  });
  app = await serveOnLoopback(server);
});
afterAll(async () => {
  vi.restoreAllMocks();
  await app?.close();
});
// The upstream echoes every header it received in its error, as careless providers do; a test
// that scripts another answer changes only its own.
beforeEach(() => {
  stack.stub.script((_body, request) => ({ status: 401, json: { error: { message: `Incorrect API key provided: ${JSON.stringify(request.headers)}`, type: 'auth' } } }));
});

describe('secrets never reach a channel', () => {
  it('upstream 401 that echoes the keys it got (object config in a scope, per-call provider auth)', async () => {
    const m = model();
    const error = await failWith(() => inLayers(() => m.invoke('hi', { portkey: { authorization: `Bearer ${SECRETS.call}` } })), 'upstream-401');
    expect(error.status).toBe(401);
    expect(error.message).toContain('Incorrect API key provided');
    expect(error.message).toContain('[redacted]'); // the echo was there, and was redacted
    capture('runs:collector', collector.tracedRuns);
  });

  it('upstream 500, gateway 400, gateway down, timeout, custom host with credentials', async () => {
    stack.stub.script(() => ({ status: 500, json: { error: { message: `failed for ${SECRETS.scopeConfig}`, type: 'server' } } }));
    await failWith(() => inLayers(() => model().invoke('hi')), 'upstream-500');
    await failWith(() => inLayers(() => model({ provider: undefined, customHost: undefined, authorization: undefined }).invoke('hi'), false), 'gateway-400');
    await failWith(() => inLayers(() => model({ baseURL: 'http://127.0.0.1:1/v1' }).invoke('hi', { portkey: { authorization: `Bearer ${SECRETS.call}` } })), 'gateway-down');
    stack.stub.script(() => ({ hang: true }));
    await failWith(() => inLayers(() => model({ timeout: 300 }).invoke('hi', { portkey: { authorization: `Bearer ${SECRETS.call}` } })), 'timeout');
    const credentialed = stack.stub.baseURL.replace('http://', `http://user:${SECRETS.hostCredential}@`);
    await failWith(() => inLayers(() => model({ customHost: credentialed }).invoke('hi'), false), 'custom-host-credentials');
  });

  it('a bad option never echoes the secret it carries', async () => {
    await failWith(() => inLayers(() => model().invoke('hi', { portkey: { authorization: `Bearer ${SECRETS.call}\r\nx-injected: 1` } })), 'bad-option');
    await failWith(async () => model({ apiKey: `${SECRETS.model}\n` }), 'bad-constructor-option');
  });

  it('streams fail the same way', async () => {
    await failWith(async () => {
      for await (const _ of await inLayers(() => model().stream('hi', { portkey: { authorization: `Bearer ${SECRETS.call}` } })));
    }, 'stream-401');
  });

  it("Express's development error page", async () => {
    const res = await fetch(`${app.url}/chat`);
    expect(res.status).toBe(401); // Express uses err.status: why the README recommends a handler
    capture('express:error-page', await res.text());
  });

  it('the model itself: console.log, JSON, serialize(), identifying params, the cache key', () => {
    const m = model({ virtualKey: 'vk-never-shown-8888', authorization: `Bearer ${SECRETS.call}` });
    capture('model:inspect', inspect(m, { depth: 12, showHidden: true }));
    capture('model:json', JSON.stringify(m));
    capture('model:serialize', (m as any).serialize());
    capture('model:identifyingParams', m._identifyingParams());
    capture('model:cacheKey', m._getSerializedCacheKeyParametersForCall({ portkey: { authorization: `Bearer ${SECRETS.call}`, virtualKey: SECRETS.scopeConfig } } as never));
    expect(JSON.stringify(m)).toContain('PORTKEY_VIRTUAL_KEY');
    for (const text of channels['model:inspect']!) expect(text).not.toContain('vk-never-shown-8888');
  });

  it('no channel holds any secret', () => {
    // the channels were really captured (a test that captured nothing could not fail)
    for (const name of ['callback:handleChatModelStart', 'callback:handleLLMError', 'langsmith:createRun', 'langsmith:updateRun', 'runs:collector', 'console.log', 'express:error-page']) {
      expect(channels[name]?.length, name).toBeGreaterThan(0);
    }
    expect(consoleLog).toHaveBeenCalled();
    expect(channels['express:error-page']!.join('')).toContain('Incorrect API key provided');
    const leaks: string[] = [];
    for (const [name, texts] of Object.entries(channels)) {
      for (const secret of ALL) if (texts.some((t) => t.includes(secret))) leaks.push(`${name} shows ${secret}`);
    }
    expect(leaks).toEqual([]);
  });
});
