/**
 * `createPortkey()` on its own: what it refuses (at creation, and per call before anything is
 * sent), how the layers of options meet on the wire, what the models delegate to the
 * `@ai-sdk/openai-compatible` models they wrap, and that no key sits on a model. Requests go to a
 * recording `fetch` (the wire as the app sends it) unless the real gateway is named.
 */
import { inspect } from 'node:util';
import { embed, generateText, streamText } from 'ai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PortkeyContextError, runWithPortkeyContext, withPortkeyOverrides } from 'portkey-context';
import { createPortkey, portkeyResponseMetadata } from 'portkey-context/ai-sdk';
import { type GatewayStack, startGatewayStack } from '../harness/index.js';

interface Sent {
  url: string;
  headers: Headers;
  body: any;
}

/** A `fetch` that records each request and answers as an OpenAI-compatible server would. */
function recordingFetch() {
  const sent: Sent[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const body = JSON.parse(String(init?.body));
    sent.push({ url: String(input), headers: new Headers(init?.headers), body });
    const json = String(input).endsWith('/embeddings')
      ? { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.5, 0.25] }], model: body.model, usage: { prompt_tokens: 2, total_tokens: 2 } }
      : {
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: 0,
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        };
    return new Response(JSON.stringify(json), { headers: { 'content-type': 'application/json' } });
  };
  return { fetch, sent };
}

const metadataOf = (headers: Headers) => JSON.parse(headers.get('x-portkey-metadata') ?? '{}');
const SELF_HOSTED = 'http://127.0.0.1:9/v1'; // never reached: the recording fetch answers

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('outside any context', () => {
  it('warns once, naming createPortkey(), and still sends (no trace ID)', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const { fetch, sent } = recordingFetch();
      const model = createPortkey({ baseURL: SELF_HOSTED, fetch })('m');
      await generateText({ model, prompt: 'a' });
      await generateText({ model, prompt: 'b' });
      await new Promise((r) => setImmediate(r));
      expect(sent).toHaveLength(2);
      expect(sent[0]!.headers.get('x-portkey-trace-id')).toBeNull();
      const ours = warnings.filter((w) => (w as { code?: string }).code === 'PORTKEY_NO_CONTEXT');
      expect(ours).toHaveLength(1);
      expect(ours[0]!.message).toMatch(/^A createPortkey\(\) model was called outside any Portkey context/);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('the hosted gateway needs a Portkey key', () => {
  it('a call with no key anywhere is refused before anything is sent', async () => {
    vi.stubEnv('PORTKEY_API_KEY', '');
    vi.stubEnv('PORTKEY_BASE_URL', undefined);
    const { fetch, sent } = recordingFetch();
    const model = createPortkey({ fetch })('gpt-4o-mini');
    const error = await runWithPortkeyContext({ traceId: 'no-key' }, () => generateText({ model, prompt: 'hi', maxRetries: 0 })).catch((e) => e);
    expect(error).toBeInstanceOf(PortkeyContextError);
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.message).toMatch(/^No Portkey API key for a call to Portkey's hosted gateway \(https:\/\/api\.portkey\.ai\/v1\)/);
    const streamErrors: unknown[] = [];
    const stream = runWithPortkeyContext({ traceId: 'no-key' }, () => streamText({ model, prompt: 'hi', maxRetries: 0, onError: ({ error }) => void streamErrors.push(error) }));
    await expect(stream.text).rejects.toThrow(); // the AI SDK's NoOutputGeneratedError; the cause went to onError
    expect(streamErrors).toEqual([expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringMatching(/^No Portkey API key/) })]);
    expect(sent).toHaveLength(0);
  });

  it('a key from the environment, the context or the call is enough', async () => {
    vi.stubEnv('PORTKEY_BASE_URL', undefined);
    const { fetch, sent } = recordingFetch();
    const model = createPortkey({ fetch })('gpt-4o-mini');
    vi.stubEnv('PORTKEY_API_KEY', 'pk-from-env');
    await runWithPortkeyContext({ traceId: 't1' }, () => generateText({ model, prompt: 'env' }));
    vi.stubEnv('PORTKEY_API_KEY', '');
    await runWithPortkeyContext({ traceId: 't2', options: { apiKey: 'pk-from-context' } }, () => generateText({ model, prompt: 'context' }));
    await runWithPortkeyContext({ traceId: 't3' }, () => generateText({ model, prompt: 'call', providerOptions: { portkey: { apiKey: 'pk-from-call' } } }));
    expect(sent.map((s) => [s.url, s.headers.get('x-portkey-api-key')])).toEqual([
      ['https://api.portkey.ai/v1/chat/completions', 'pk-from-env'],
      ['https://api.portkey.ai/v1/chat/completions', 'pk-from-context'],
      ['https://api.portkey.ai/v1/chat/completions', 'pk-from-call'],
    ]);
    expect(sent.every((s) => !s.headers.has('authorization'))).toBe(true);
  });
});

describe('per-call options', () => {
  it('layer over the provider, the request context and a scope, metadata merged; they apply to every model kind', async () => {
    const { fetch, sent } = recordingFetch();
    const portkey = createPortkey({ baseURL: SELF_HOSTED, fetch, apiKey: 'pk-static', metadata: { app: 'shop' }, cacheNamespace: 'static' });
    await runWithPortkeyContext({ traceId: 'request-1', metadata: { _user: 'ada' }, options: { cacheNamespace: 'request' } }, () =>
      withPortkeyOverrides({ metadata: { step: 'scope' } }, async () => {
        await generateText({ model: portkey('m'), prompt: 'p', providerOptions: { portkey: { metadata: { feature: 'call' }, cacheNamespace: 'call', spanName: 'summary' } } });
        await generateText({ model: portkey.chatModel('m'), prompt: 'p' });
        await embed({ model: portkey.embeddingModel('e'), value: 'v', providerOptions: { portkey: { metadata: { feature: 'embedding' } } } });
      }),
    );
    const [call, plain, embedding] = sent;
    expect(metadataOf(call!.headers)).toEqual({ app: 'shop', _user: 'ada', step: 'scope', feature: 'call' });
    expect(call!.headers.get('x-portkey-cache-namespace')).toBe('call');
    expect(call!.headers.get('x-portkey-span-name')).toBe('summary');
    expect(metadataOf(plain!.headers)).toEqual({ app: 'shop', _user: 'ada', step: 'scope' });
    expect(plain!.headers.get('x-portkey-cache-namespace')).toBe('request');
    expect(embedding!.url).toBe(`${SELF_HOSTED}/embeddings`);
    expect(metadataOf(embedding!.headers)).toEqual({ app: 'shop', _user: 'ada', step: 'scope', feature: 'embedding' });
    for (const s of sent) {
      expect(s.headers.get('x-portkey-trace-id')).toBe('request-1');
      expect(s.headers.get('x-portkey-api-key')).toBe('pk-static');
      expect(JSON.stringify(s.body)).not.toMatch(/portkey|feature|summary|call/);
    }
  });

  it('a bad one is a PortkeyContextError naming the option (never a TypeError, never a value), and nothing is sent', async () => {
    const { fetch, sent } = recordingFetch();
    const model = createPortkey({ baseURL: SELF_HOSTED, fetch })('m');
    const cases: [unknown, RegExp][] = [
      ['summary', /providerOptions\.portkey must be an object of Portkey options, got a string/],
      [{ metdata: { feature: 'x' } }, /"metdata" is not one/],
      [{ baseURL: 'http://elsewhere/v1' }, /cannot set "baseURL"/],
      [{ metadata: 5 }, /"metadata"/],
      [{ cacheForceRefresh: 'yes' }, /"cacheForceRefresh" must be a boolean/],
      [{ forwardHeaders: 'x-a' }, /"forwardHeaders" must be an array/],
      [{ apiKey: 'pk-secret-value\r\nx-injected: 1' }, /"apiKey" cannot be sent as a header/],
    ];
    for (const [given, message] of cases) {
      const error = await runWithPortkeyContext({ traceId: 'bad' }, () =>
        generateText({ model, prompt: 'p', maxRetries: 0, providerOptions: { portkey: given } as never }),
      ).catch((e) => e);
      expect(error, JSON.stringify(given)).toBeInstanceOf(PortkeyContextError);
      expect(['INVALID_OPTION', 'INVALID_HEADER_VALUE']).toContain(error.code);
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain('pk-secret-value');
    }
    expect(sent).toHaveLength(0);
  });
});

describe('createPortkey() settings', () => {
  it('refuses bad settings at once, never echoing a secret', () => {
    expect(() => createPortkey('pk' as never)).toThrow(/takes an object of options, got a string/);
    expect(() => createPortkey({ spanId: 's' } as never)).toThrow(/"spanId" names one call/);
    expect(() => createPortkey({ name: 'other' } as never)).toThrow(/remove "name"/);
    expect(() => createPortkey({ includeUsage: 'yes' as never })).toThrow(/"includeUsage" must be a boolean/);
    expect(() => createPortkey({ apiKey: 'sk-proj-provider-key' })).toThrow(/looks like a provider's key/);
    expect(() => createPortkey({ apiKey: 'sk-proj-provider-key' })).not.toThrow(/sk-proj-provider-key/);
    expect(() => createPortkey({ baseURL: 'http://user:pass@gateway/v1' })).toThrow(/must not contain credentials/);
    expect(() => createPortkey({ fetch: 'nope' as never })).toThrow(/"fetch" must be a fetch function/);
    expect(() => createPortkey({ apiKey: 'pk-secret-value\r\nx: 1' })).toThrow(/apiKey/);
    expect(() => createPortkey({ apiKey: 'pk-secret-value\r\nx: 1' })).not.toThrow(/pk-secret-value/);
    expect(() => createPortkey({ metadata: 'user-1' as never })).toThrow(PortkeyContextError);
  });

  it('the models are the openai-compatible models, delegated; they hold no key', async () => {
    const { fetch, sent } = recordingFetch();
    const portkey = createPortkey({ baseURL: `${SELF_HOSTED}/`, fetch, apiKey: 'pk-secret-value', provider: 'openai', authorization: 'Bearer sk-provider-secret', headers: { 'x-app': 'shop' } });
    const model = portkey('gpt-4o-mini');
    expect(model.specificationVersion).toBe('v3');
    expect(model.provider).toBe('portkey.chat');
    expect(model.modelId).toBe('gpt-4o-mini');
    expect(await model.supportedUrls).toEqual({});
    expect(portkey.completionModel('c').provider).toBe('portkey.completion');
    expect(portkey.specificationVersion).toBe('v3');
    expect(inspect(portkey('m'), { depth: 10, showHidden: true })).not.toMatch(/pk-secret-value|sk-provider-secret/);
    await runWithPortkeyContext({ traceId: 't' }, () => generateText({ model, prompt: 'p' }));
    expect(sent[0]!.url).toBe(`${SELF_HOSTED}/chat/completions`);
    expect(sent[0]!.headers.get('authorization')).toBe('Bearer sk-provider-secret');
    expect(sent[0]!.headers.get('x-app')).toBe('shop'); // an openai-compatible setting, passed on
  });
});

describe('through the real gateway', () => {
  let stack: GatewayStack;
  beforeAll(async () => {
    stack = await startGatewayStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("portkeyResponseMetadata reads what the gateway said, from a result and from a stream's response", async () => {
    const portkey = createPortkey({ apiKey: 'pk-meta', baseURL: stack.baseURL, ...stack.providerOptions });
    const [generated, streamed] = await runWithPortkeyContext({ traceId: 'meta-1', metadata: { _user: 'ada' } }, async () => {
      const result = await generateText({ model: portkey('gpt-4o-mini'), prompt: 'hi' });
      const stream = streamText({ model: portkey('gpt-4o-mini'), prompt: 'hi again' });
      expect(await stream.text).toBe('echo: hi again');
      return [portkeyResponseMetadata(result), portkeyResponseMetadata(await stream.response)];
    });
    for (const metadata of [generated, streamed]) expect(metadata).toMatchObject({ traceId: 'meta-1', provider: 'openai', retryAttemptCount: 0 });
    expect(portkeyResponseMetadata(undefined)).toBeUndefined();
    expect(portkeyResponseMetadata({ response: undefined })).toBeUndefined();
  });
});
