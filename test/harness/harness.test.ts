/**
 * Self-check of the harness fault modes against the real gateway, and a record of what the gateway
 * does with each: every test asserts the behaviour observed through recording proxy -> gateway -> stub
 * and prints a one-line summary of what the client saw.
 */
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type GatewayStack, type StubReply, startGatewayStack, waitUntil } from './index.js';
import { type RecordingProxy, startRecordingProxy } from './recording-proxy.js';
import { type StubLlm, startStubLlm } from './stub-llm.js';

let stack: GatewayStack;
let closed = false;

beforeAll(async () => {
  stack = await startGatewayStack();
});
afterAll(async () => {
  if (!closed) await stack?.close();
});
beforeEach(() => stack.reset());

interface Seen {
  status: number;
  contentType: string | null;
  retryAfter: string | null;
  headers: Headers;
  /** Everything the client read, also when the body broke off. */
  text: string;
  /** Set when reading the body failed (the response did not end cleanly). */
  error?: string;
}

function send(stream: boolean, signal?: AbortSignal): Promise<Response> {
  return fetch(`${stack.baseURL}/chat/completions`, {
    method: 'POST',
    signal,
    headers: {
      'x-portkey-provider': 'openai',
      'x-portkey-custom-host': stack.stub.baseURL,
      authorization: 'Bearer sk-x',
      'content-type': 'application/json',
    },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...(stream ? { stream: true } : {}) }),
  });
}

async function read(res: Response): Promise<Seen> {
  let text = '';
  let error: string | undefined;
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body ?? []) text += decoder.decode(chunk as Uint8Array, { stream: true });
  } catch (err: any) {
    error = [err?.message, err?.cause?.message].filter(Boolean).join(': ');
  }
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    retryAfter: res.headers.get('retry-after'),
    headers: res.headers,
    text,
    error,
  };
}

async function callWith(reply: StubReply, stream: boolean): Promise<Seen> {
  stack.stub.script(() => reply);
  return read(await send(stream));
}

function summary(mode: string, seen: Seen): void {
  const ending = seen.error ? `body broke off (${seen.error})` : 'ended cleanly';
  console.log(
    `[gateway] ${mode}: ${seen.status} ${seen.contentType ?? '-'} retry-after=${seen.retryAfter ?? '-'} ${ending} body=${JSON.stringify(seen.text.slice(0, 120))}`,
  );
}

const sseEvents = (text: string) =>
  text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice('data: '.length));

describe('fault modes through the real gateway', () => {
  it('cutAfterChunks: 2 — the client gets the two chunks, then a clean end of stream (no finish_reason, no [DONE])', async () => {
    const seen = await callWith({ cutAfterChunks: 2 }, true);
    summary('cutAfterChunks 2 (stream)', seen);
    expect(seen.status).toBe(200);
    expect(seen.contentType).toBe('text/event-stream');
    expect(seen.error).toBeUndefined();
    const events = sseEvents(seen.text);
    expect(events).toHaveLength(2);
    expect(events).not.toContain('[DONE]');
    const chunks = events.map((e) => JSON.parse(e));
    expect(chunks.map((c) => c.choices[0].delta.content).join('')).toBe('echo');
    expect(chunks.every((c) => c.choices[0].finish_reason === null)).toBe(true);

    const [upstream] = stack.stub.requests;
    expect(upstream?.completed).toBe(false);
    expect(upstream?.closedAt).toBeTypeOf('number');
    const [gateway] = stack.gatewayRequests;
    await waitUntil(() => gateway?.closedAt !== undefined);
    // The gateway ends its own response normally (proper end of the chunked body): no error on the proxy side.
    expect(gateway).toMatchObject({ clientAborted: false, response: { status: 200 } });
    expect(gateway?.upstreamError).toBeUndefined();
    console.log(
      `[gateway] cutAfterChunks 2: gateway ended its response ${(gateway!.closedAt! - upstream!.closedAt!).toFixed(1)} ms after the stub dropped the socket`,
    );
  });

  it('raw malformed SSE is passed through unchanged', async () => {
    const seen = await callWith({ raw: { body: 'data: {not json\n\n', contentType: 'text/event-stream' } }, true);
    summary('raw malformed SSE', seen);
    expect(seen).toMatchObject({ status: 200, contentType: 'text/event-stream', text: 'data: {not json\n\n' });
    expect(seen.error).toBeUndefined();
  });

  it('an empty SSE stream (only [DONE]) is passed through unchanged', async () => {
    const seen = await callWith({ raw: { body: 'data: [DONE]\n\n', contentType: 'text/event-stream' } }, true);
    summary('raw empty SSE [DONE]', seen);
    expect(seen).toMatchObject({ status: 200, contentType: 'text/event-stream', text: 'data: [DONE]\n\n' });
    expect(seen.error).toBeUndefined();
  });

  it("an SSE reply with an empty body ('') reaches the client as an empty 200 stream", async () => {
    const seen = await callWith({ raw: { body: '', contentType: 'text/event-stream' } }, true);
    summary("raw empty SSE ''", seen);
    expect(seen).toMatchObject({ status: 200, contentType: 'text/event-stream', text: '' });
    expect(seen.error).toBeUndefined();
  });

  it('raw malformed JSON becomes a gateway 500 "Something went wrong"', async () => {
    const seen = await callWith({ raw: { body: '{not json' } }, false);
    summary('raw malformed JSON', seen);
    expect(seen.status).toBe(500);
    expect(seen.contentType).toBe('application/json');
    expect(seen.headers.get('x-portkey-gateway-exception')).toBe('true');
    expect(JSON.parse(seen.text)).toEqual({ status: 'failure', message: 'Something went wrong' });
  });

  it('a raw empty JSON object {} is passed through as a 200', async () => {
    const seen = await callWith({ raw: { body: '{}' } }, false);
    summary('raw empty JSON {}', seen);
    expect(seen).toMatchObject({ status: 200, contentType: 'application/json', text: '{}' });
  });

  it("a raw empty body ('') becomes a gateway 500 like malformed JSON", async () => {
    const seen = await callWith({ raw: { body: '' } }, false);
    summary("raw empty body ''", seen);
    expect(seen.status).toBe(500);
    expect(seen.headers.get('x-portkey-gateway-exception')).toBe('true');
    expect(JSON.parse(seen.text)).toEqual({ status: 'failure', message: 'Something went wrong' });
  });

  it('a 429 keeps its status and retry-after header; the error is re-wrapped; no retry', async () => {
    const seen = await callWith({ status: 429, headers: { 'retry-after': '1' } }, false);
    summary('429 + retry-after: 1', seen);
    expect(seen.status).toBe(429);
    expect(seen.retryAfter).toBe('1');
    expect(seen.headers.get('x-portkey-retry-attempt-count')).toBe('0');
    expect(JSON.parse(seen.text)).toEqual({
      error: { message: 'openai error: scripted failure', type: 'stub_error', param: null, code: null },
      provider: 'openai',
    });
    expect(stack.stub.requests).toHaveLength(1);
  });

  it('a 500 keeps its status; the error is re-wrapped; no retry', async () => {
    const seen = await callWith({ status: 500 }, false);
    summary('500', seen);
    expect(seen.status).toBe(500);
    expect(seen.headers.get('x-portkey-gateway-exception')).toBeNull();
    expect(JSON.parse(seen.text)).toMatchObject({ error: { message: 'openai error: scripted failure' }, provider: 'openai' });
    expect(stack.stub.requests).toHaveLength(1);
  });
});

describe('client disconnects', () => {
  it('hang: the proxy sees the abort at once; the gateway keeps its upstream request open', async () => {
    stack.stub.script(() => ({ hang: true }));
    const controller = new AbortController();
    let abortedAt = 0;
    const timer = setTimeout(() => {
      abortedAt = performance.now();
      controller.abort();
    }, 300);
    await expect(send(false, controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
    clearTimeout(timer);

    const [gateway] = stack.gatewayRequests;
    await waitUntil(() => gateway?.closedAt !== undefined, 1000);
    expect(gateway?.clientAborted).toBe(true);
    expect(gateway!.closedAt! - abortedAt).toBeLessThan(200);
    expect(gateway!.closedAt! - gateway!.receivedAt).toBeGreaterThanOrEqual(290);

    const [upstream] = stack.stub.requests;
    expect(upstream).toBeDefined();
    // Observed: the gateway does not pass the disconnect on to the provider (not within 1 s at least).
    await expect(waitUntil(() => upstream?.closedAt !== undefined, 1000)).rejects.toThrow(/within 1000 ms/);
    expect(upstream?.completed).toBe(false);
    console.log(
      `[gateway] hang + client abort at +${Math.round(abortedAt - gateway!.receivedAt)} ms: proxy closedAt ${(gateway!.closedAt! - abortedAt).toFixed(1)} ms after the abort (clientAborted=${gateway!.clientAborted}); stub request still open ${Math.round(performance.now() - abortedAt)} ms after the abort`,
    );
  });

  it('slow stream: a client abort mid-stream closes the proxy exchange at once; the gateway still reads the stub stream to its end', async () => {
    stack.stub.script(() => ({ chunkDelayMs: 100, content: 'a slow answer of many words' }));
    const controller = new AbortController();
    const res = await send(true, controller.signal);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    const abortedAt = performance.now();
    controller.abort();
    await expect(reader.read()).rejects.toMatchObject({ name: 'AbortError' });

    const [gateway] = stack.gatewayRequests;
    await waitUntil(() => gateway?.closedAt !== undefined, 1000);
    expect(gateway?.clientAborted).toBe(true);
    expect(gateway!.closedAt! - abortedAt).toBeLessThan(200);

    const [upstream] = stack.stub.requests;
    await waitUntil(() => upstream?.closedAt !== undefined, 2000);
    // Observed: the gateway does not cancel the provider stream when its client goes away.
    expect(upstream?.completed).toBe(true);
    console.log(
      `[gateway] slow stream + client abort after the first chunk: proxy closedAt ${(gateway!.closedAt! - abortedAt).toFixed(1)} ms after the abort; stub closedAt ${(upstream!.closedAt! - abortedAt).toFixed(1)} ms after the abort, completed=${upstream!.completed}`,
    );
  });

  it('close() stops the stack promptly with a hanging upstream request open', async () => {
    stack.stub.script(() => ({ hang: true }));
    const controller = new AbortController();
    const pending = send(false, controller.signal).catch((err) => err);
    await waitUntil(() => stack.stub.requests.length === 1);
    const started = performance.now();
    await stack.close();
    closed = true;
    expect(performance.now() - started).toBeLessThan(2000);
    expect(stack.stub.requests[0]).toMatchObject({ completed: false, closedAt: expect.any(Number) });
    controller.abort();
    await pending;
  });
});

describe('recording proxy without the gateway (proxy -> stub)', () => {
  type Pair = { stub: StubLlm; proxy: RecordingProxy };
  const direct = async (reply: StubReply, fn: (pair: Pair) => Promise<void>): Promise<Pair> => {
    const stub = await startStubLlm();
    stub.script(() => reply);
    const proxy = await startRecordingProxy(stub.url);
    try {
      await fn({ stub, proxy });
      return { stub, proxy };
    } finally {
      await Promise.all([proxy.close(), stub.close()]);
    }
  };
  const post = (url: string, signal?: AbortSignal, stream = false) =>
    fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      signal,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream }),
    });

  it('records the request in flight and passes a client abort on to its target at once', async () => {
    const controller = new AbortController();
    let abortedAt = 0;
    const { stub, proxy } = await direct({ hang: true }, async ({ stub, proxy }) => {
      const pending = post(proxy.url, controller.signal).catch((err) => err);
      await waitUntil(() => stub.requests.length === 1);
      expect(proxy.requests).toHaveLength(1);
      expect(proxy.requests[0]).toMatchObject({ clientAborted: false, body: { model: 'm' } });
      expect(proxy.requests[0]!.closedAt).toBeUndefined();
      abortedAt = performance.now();
      controller.abort();
      await pending;
      await waitUntil(() => stub.requests[0]!.closedAt !== undefined, 500);
    });
    expect(proxy.requests[0]).toMatchObject({ clientAborted: true });
    expect(proxy.requests[0]!.closedAt! - abortedAt).toBeLessThan(200);
    expect(stub.requests[0]!.closedAt! - abortedAt).toBeLessThan(200);
    expect(stub.requests[0]!.completed).toBe(false);
    expect(stub.requests[0]!.receivedAt).toBeGreaterThanOrEqual(proxy.requests[0]!.receivedAt);
  });

  it('breaks the client response off when its target cuts a stream, and records why', async () => {
    let seen: Seen | undefined;
    const { stub, proxy } = await direct({ cutAfterChunks: 2 }, async ({ proxy }) => {
      seen = await read(await post(proxy.url, undefined, true));
      await waitUntil(() => proxy.requests[0]?.closedAt !== undefined);
    });
    expect(sseEvents(seen!.text)).toHaveLength(2);
    expect(seen!.error).toMatch(/terminated/);
    expect(stub.requests[0]!.completed).toBe(false);
    expect(proxy.requests[0]).toMatchObject({ clientAborted: false, upstreamError: expect.any(String) });
  });
});
