/**
 * A small OpenAI-compatible upstream that records every request that reached it.
 * It is the only stand-in in the test suite: it plays the LLM provider behind the real gateway.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface RecordedUpstreamRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
  /** `performance.now()` when the request headers arrived (the `request` event, before the body). */
  receivedAt: number;
  /** `performance.now()` when the response/connection closed, for any reason (unset while open). */
  closedAt?: number;
  /** True only once the full response was written (`res.writableFinished` at close). */
  completed: boolean;
  /** The `usage` object the stub sent in its answer (JSON, or a stream's usage chunk), if it sent one. */
  usage?: unknown;
}

/** What the stub answers; `undefined` from a script falls back to the default reply. */
export interface StubReply {
  status?: number;
  /** JSON body for an error or a custom completion. */
  json?: unknown;
  /** Assistant text (the default echoes the last user message). */
  content?: string;
  /** Tool calls to return instead of text. */
  toolCalls?: Array<{ name: string; arguments: unknown; id?: string }>;
  /** Milliseconds to wait before answering. */
  delayMs?: number;
  /** Never answer: keep the socket open (the request stays recorded) until the peer or `close()` ends it. */
  hang?: boolean;
  /** Extra response headers (e.g. `retry-after` on a 429), applied to error, raw and normal replies. */
  headers?: Record<string, string>;
  /** Send exactly this body (status 200 and `application/json` unless given), e.g. malformed JSON or hand-written SSE. */
  raw?: { body: string; contentType?: string; status?: number };
  /** Streamed replies only: write the first N SSE chunks, then destroy the socket (no finish_reason chunk, no [DONE]). */
  cutAfterChunks?: number;
  /** Streamed replies only: wait this long between SSE chunks; stops writing once the client went away. */
  chunkDelayMs?: number;
  /** The `usage` to answer with. @default { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 } */
  usage?: Record<string, unknown>;
}

export type StubScript = (body: any, request: RecordedUpstreamRequest) => StubReply | undefined;

export interface StubLlm {
  url: string;
  /** Base URL to use as a gateway custom host (`…/v1`, no trailing slash). */
  baseURL: string;
  requests: RecordedUpstreamRequest[];
  script(fn: StubScript | undefined): void;
  reset(): void;
  close(): Promise<void>;
}

function lastUserText(body: any): string {
  const messages: any[] = Array.isArray(body?.messages) ? body.messages : [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m.role === 'user') {
      return typeof m.content === 'string' ? m.content : JSON.stringify(m.content);
    }
  }
  return '';
}

function completion(body: any, reply: StubReply) {
  const toolCalls = reply.toolCalls?.map((call, i) => ({
    id: call.id ?? `call_${i}_${Math.random().toString(36).slice(2, 8)}`,
    type: 'function',
    function: {
      name: call.name,
      arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments),
    },
  }));
  const content = toolCalls ? null : (reply.content ?? `echo: ${lastUserText(body)}`);
  return {
    id: `chatcmpl-${Math.random().toString(36).slice(2, 10)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: body?.model ?? 'stub-model',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, ...(toolCalls ? { tool_calls: toolCalls } : {}) },
        finish_reason: toolCalls ? 'tool_calls' : 'stop',
        logprobs: null,
      },
    ],
    usage: reply.usage ?? { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
  };
}

function sseChunks(body: any, reply: StubReply): unknown[] {
  const full = completion(body, reply);
  const base = { id: full.id, object: 'chat.completion.chunk', created: full.created, model: full.model };
  const message = full.choices[0]!.message as any;
  const chunks: unknown[] = [
    { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
  ];
  if (message.tool_calls) {
    message.tool_calls.forEach((call: any, index: number) => {
      chunks.push({
        ...base,
        choices: [
          {
            index: 0,
            delta: { tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: call.function.arguments } }] },
            finish_reason: null,
          },
        ],
      });
    });
  } else {
    for (const piece of String(message.content).match(/.{1,4}/gs) ?? []) {
      chunks.push({ ...base, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] });
    }
  }
  chunks.push({ ...base, choices: [{ index: 0, delta: {}, finish_reason: full.choices[0]!.finish_reason }] });
  chunks.push({ ...base, choices: [], usage: full.usage });
  return chunks;
}

/** Starts the stub on 127.0.0.1 and a free port. */
export async function startStubLlm(): Promise<StubLlm> {
  const requests: RecordedUpstreamRequest[] = [];
  let scriptFn: StubScript | undefined;

  const timers = new Set<NodeJS.Timeout>();

  /** Waits `ms`, or less if the response closes first (or the stub stops); resolves whether it is still open. */
  const pause = (ms: number, res: ServerResponse) =>
    new Promise<boolean>((resolve) => {
      if (res.destroyed || res.writableEnded) return resolve(false);
      const done = () => {
        clearTimeout(timer);
        timers.delete(timer);
        res.off('close', done);
        resolve(!res.destroyed && !res.writableEnded);
      };
      const timer = setTimeout(done, ms);
      timers.add(timer);
      res.once('close', done);
    });

  const server: Server = createServer((req, res) => {
    const recorded: RecordedUpstreamRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: undefined,
      receivedAt: performance.now(),
      completed: false,
    };
    res.on('close', () => {
      recorded.closedAt = performance.now();
      recorded.completed = res.writableFinished;
    });
    // A peer that goes away mid-request must not crash the test process.
    req.on('error', () => {});
    res.on('error', () => {});
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(parts).toString('utf8');
      let body: any;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      recorded.body = body;
      requests.push(recorded);
      if (!req.url?.endsWith('/chat/completions')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `stub: no route ${req.url}` } }));
        return;
      }
      const reply = scriptFn?.(body, recorded) ?? {};
      if (reply.hang) return;
      if (reply.delayMs && !(await pause(reply.delayMs, res))) return;
      const extra = reply.headers ?? {};
      if (reply.raw) {
        res.writeHead(reply.raw.status ?? 200, { 'content-type': reply.raw.contentType ?? 'application/json', ...extra });
        res.end(reply.raw.body);
        return;
      }
      if (reply.status && reply.status >= 400) {
        res.writeHead(reply.status, { 'content-type': 'application/json', ...extra });
        res.end(JSON.stringify(reply.json ?? { error: { message: 'scripted failure', type: 'stub_error' } }));
        return;
      }
      if (body?.stream) {
        res.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
          ...extra,
        });
        const chunks = sseChunks(body, reply);
        const cut = reply.cutAfterChunks;
        if (cut === undefined) recorded.usage = (chunks.at(-1) as { usage?: unknown }).usage;
        const count = cut === undefined ? chunks.length : Math.min(Math.max(cut, 0), chunks.length);
        let flushed: Promise<void> = Promise.resolve();
        for (let i = 0; i < count; i++) {
          if (i > 0 && reply.chunkDelayMs && !(await pause(reply.chunkDelayMs, res))) return;
          if (res.destroyed) return;
          flushed = new Promise<void>((resolve) => res.write(`data: ${JSON.stringify(chunks[i])}\n\n`, () => resolve()));
        }
        if (cut !== undefined) {
          // Abrupt end: once what was written has reached the socket, drop it without the terminating chunk.
          if (count === 0) {
            res.flushHeaders();
            await pause(20, res);
          } else {
            await flushed;
          }
          res.destroy();
          return;
        }
        if (!res.destroyed) res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', ...extra });
      const answer = (reply.json ?? completion(body, reply)) as { usage?: unknown };
      recorded.usage = answer.usage;
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseURL: `${url}/v1`,
    requests,
    script(fn) {
      scriptFn = fn;
    },
    reset() {
      requests.length = 0;
      scriptFn = undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
