/**
 * createPortkeyOpenAI() and portkeyCall() options: what is refused (before anything is sent, never
 * echoing a value), and Portkey's hosted gateway refused without a Portkey API key. The `fetch`
 * given to the client is where the request would leave the process: what it received is the wire.
 */
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PORTKEY_REQUEST_OPTIONS, runWithPortkeyContext, withPortkeyOverrides } from 'portkey-context';
import { createPortkeyOpenAI, portkeyCall, portkeyResponseMetadata } from 'portkey-context/openai';

const saved = { key: process.env.PORTKEY_API_KEY, url: process.env.PORTKEY_BASE_URL };
beforeEach(() => {
  delete process.env.PORTKEY_API_KEY;
  delete process.env.PORTKEY_BASE_URL;
});
afterEach(() => {
  for (const [name, value] of [['PORTKEY_API_KEY', saved.key], ['PORTKEY_BASE_URL', saved.url]] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

/** A `fetch` that records what it was asked to send and answers a completion. */
function recordingFetch() {
  const sent: { url: string; headers: Headers }[] = [];
  const fetch = (async (input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit) => {
    sent.push({ url: String(input), headers: new Headers(init?.headers) });
    const body = { id: 'c', object: 'chat.completion', created: 0, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }] };
    return new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json', 'x-portkey-trace-id': 'echoed', 'x-portkey-cache-status': 'MISS' } });
  }) as typeof globalThis.fetch;
  return { fetch, sent };
}
const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };

describe('createPortkeyOpenAI() refuses what would be ignored or misused, naming what to do', () => {
  it.each([
    ['an openai option at the top level', { timeout: 5000 }, /under `configuration`/],
    ['configuration.apiKey', { configuration: { apiKey: 'sk-secret-provider-1234' } }, /configuration.apiKey is not sent/],
    ['configuration.baseURL', { configuration: { baseURL: 'http://localhost:8787/v1' } }, /configuration.baseURL is not used/],
    ['a provider key as the Portkey apiKey', { apiKey: 'sk-secret-provider-1234' }, /looks like a provider's key/],
    ['a static spanId', { spanId: 'span-1' }, /names one call/],
    ['a baseURL with credentials', { baseURL: 'https://user:pass@gateway.example/v1' }, /credentials/],
    ['configuration that is not an object', { configuration: 'x' }, /must be an object/],
  ])('%s', (_name, options, message) => {
    let error: any;
    try {
      createPortkeyOpenAI(options as never);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ name: 'PortkeyContextError', code: 'INVALID_OPTION' });
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain('sk-secret-provider-1234');
    expect(error.message).not.toContain('pass');
  });

  it('an option that cannot be a header is refused at construction', () => {
    expect(() => createPortkeyOpenAI({ provider: 'openai\r\nx-evil: 1' })).toThrow(expect.objectContaining({ code: 'INVALID_HEADER_VALUE' }));
  });

  it('the client holds no Portkey secret where it can be logged', () => {
    const client = createPortkeyOpenAI({ apiKey: 'pk-secret-portkey-key', authorization: 'Bearer sk-secret-provider-1234', baseURL: 'http://127.0.0.1:1/v1' });
    const shown = inspect(client, { depth: 6, showHidden: true });
    expect(shown).not.toContain('pk-secret-portkey-key');
    expect(shown).not.toContain('sk-secret-provider-1234');
    expect(client.baseURL).toBe('http://127.0.0.1:1/v1');
  });
});

describe("Portkey's hosted gateway needs a Portkey API key: refused before anything is sent", () => {
  it('no key anywhere: PortkeyContextError INVALID_OPTION, and the fetch was never called', async () => {
    const { fetch, sent } = recordingFetch();
    const client = createPortkeyOpenAI({ provider: 'openai', configuration: { fetch } });
    expect(client.baseURL).toBe('https://api.portkey.ai/v1');
    const call = runWithPortkeyContext({ traceId: 'no-key' }, () => client.chat.completions.create(ask));
    await expect(call).rejects.toMatchObject({ name: 'PortkeyContextError', code: 'INVALID_OPTION', message: expect.stringMatching(/No Portkey API key/) });
    expect(sent).toHaveLength(0);
  });

  it('a key from the environment, the context, a scope or the call is enough; the call sends it', async () => {
    const { fetch, sent } = recordingFetch();
    const client = createPortkeyOpenAI({ provider: 'openai', configuration: { fetch } });
    await runWithPortkeyContext({ traceId: 't1', options: { apiKey: 'pk-from-context' } }, () => client.chat.completions.create(ask));
    await runWithPortkeyContext({ traceId: 't2' }, () => withPortkeyOverrides({ apiKey: 'pk-from-scope' }, () => client.chat.completions.create(ask)));
    await runWithPortkeyContext({ traceId: 't3' }, () => client.chat.completions.create(ask, portkeyCall({ apiKey: 'pk-from-call' })));
    process.env.PORTKEY_API_KEY = 'pk-from-env';
    const { response } = await runWithPortkeyContext({ traceId: 't4' }, () => client.chat.completions.create(ask).withResponse());
    expect(sent.map((s) => [s.headers.get('x-portkey-trace-id'), s.headers.get('x-portkey-api-key')])).toEqual([
      ['t1', 'pk-from-context'],
      ['t2', 'pk-from-scope'],
      ['t3', 'pk-from-call'],
      ['t4', 'pk-from-env'],
    ]);
    expect(sent[0]!.url).toBe('https://api.portkey.ai/v1/chat/completions');
    for (const { headers } of sent) expect(headers.get('authorization')).toBeNull(); // the SDK's placeholder key is never sent
    expect(portkeyResponseMetadata(response)).toEqual({ traceId: 'echoed', cacheStatus: 'MISS' });
  });
});

describe("the request context's abort signal", () => {
  it('is put on each call, and never carried by a reused options object into the next request', async () => {
    const { fetch, sent } = recordingFetch();
    const client = createPortkeyOpenAI({ baseURL: 'http://127.0.0.1:1/v1', configuration: { fetch, maxRetries: 0 } });
    const mine = new AbortController();
    const options = { method: 'post' as const, path: '/chat/completions', body: ask, signal: mine.signal }; // reused, as a caller may
    const first = new AbortController();
    await runWithPortkeyContext({ traceId: 'first', signal: first.signal }, () => client.request(options));
    first.abort(new Error('the first request ended')); // its client left after the call
    const second = new AbortController();
    await runWithPortkeyContext({ traceId: 'second', signal: second.signal }, () => client.request(options));
    expect(sent.map((s) => s.headers.get('x-portkey-trace-id'))).toEqual(['first', 'second']);
    second.abort(new Error('the second client left'));
    const third = runWithPortkeyContext({ traceId: 'third', signal: second.signal }, () => client.request(options));
    await expect(third).rejects.toMatchObject({ constructor: expect.objectContaining({ name: 'APIUserAbortError' }) });
    expect(sent).toHaveLength(2); // an aborted context sends nothing
    // the caller's own signal still counts
    mine.abort();
    await expect(runWithPortkeyContext({ traceId: 'fourth' }, () => client.request(options))).rejects.toMatchObject({
      constructor: expect.objectContaining({ name: 'APIUserAbortError' }),
    });
    expect(sent).toHaveLength(2);
  });
});

describe('portkeyCall()', () => {
  it('adds the overrides to the call\'s fetchOptions, keeps the SDK options given, and layers when nested', () => {
    const signal = new AbortController().signal;
    const options = portkeyCall({ metadata: { feature: 'b' }, cacheNamespace: 'n2' }, portkeyCall({ metadata: { step: 'a' }, cacheNamespace: 'n1' }, { timeout: 1234, signal, fetchOptions: { keepalive: true } }));
    expect(options).toMatchObject({ timeout: 1234, signal, fetchOptions: { keepalive: true } });
    expect((options.fetchOptions as any)[PORTKEY_REQUEST_OPTIONS]).toEqual({ metadata: { step: 'a', feature: 'b' }, cacheNamespace: 'n2' });
  });

  it('refuses at once what cannot be sent: baseURL, a non-object, a value that cannot be a header', () => {
    expect(() => portkeyCall({ baseURL: 'http://x/v1' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => portkeyCall('x' as never)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => portkeyCall({ cacheNamespace: 'a\nb' })).toThrow(expect.objectContaining({ code: 'INVALID_HEADER_VALUE' }));
  });
});
