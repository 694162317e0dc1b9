/**
 * A small OpenAI-compatible upstream that records every request that reached it.
 * It is the only stand-in in the test suite: it plays the LLM provider behind the real gateway.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedUpstreamRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
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
    usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
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

  const server: Server = createServer((req, res) => {
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
      const recorded: RecordedUpstreamRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      requests.push(recorded);
      if (!req.url?.endsWith('/chat/completions')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `stub: no route ${req.url}` } }));
        return;
      }
      const reply = scriptFn?.(body, recorded) ?? {};
      if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
      if (reply.status && reply.status >= 400) {
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(reply.json ?? { error: { message: 'scripted failure', type: 'stub_error' } }));
        return;
      }
      if (body?.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        for (const chunk of sseChunks(body, reply)) res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.json ?? completion(body, reply)));
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
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
