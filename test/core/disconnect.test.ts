/**
 * The request context's abort signal, on a real Node HTTP server: it fires when the client leaves
 * before the response is complete, and never for a request that completes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type PortkeyContext,
  PortkeyContextError,
  portkeySignal,
  runWithPortkeyContext,
  withPortkeyOverrides,
} from 'portkey-context';
import { createRequestContextFactory } from '../../src/request-context.js';
import { portkeyContextStorage } from '../../src/context.js';
import { serveOnLoopback } from '../harness/index.js';

type Handler = (req: IncomingMessage, res: ServerResponse, context: PortkeyContext) => void;
let server: Awaited<ReturnType<typeof serveOnLoopback>> | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(handler: Handler, options: { abortOnDisconnect?: boolean } = {}) {
  const createContext = createRequestContextFactory(options);
  server = await serveOnLoopback((req, res) => {
    const context = createContext(req, res);
    portkeyContextStorage.run(context, () => handler(req, res, context));
  });
  return server.url;
}

/** Sends a request and destroys it after `ms`. */
function leaveAfter(url: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' } });
    req.on('error', () => resolve());
    req.end('{"q":1}');
    setTimeout(() => {
      req.destroy();
      resolve();
    }, ms);
  });
}

const nextEvent = () => new Promise((r) => setTimeout(r, 20));

describe('request context signal', () => {
  it('fires with CLIENT_DISCONNECTED (and the trace ID) when the client leaves mid-request', async () => {
    let seen: AbortSignal | undefined;
    let firedAt = 0;
    const url = await serve((_req, _res, context) => {
      seen = portkeySignal();
      seen?.addEventListener('abort', () => (firedAt = performance.now()));
      expect(seen).toBe(context.signal);
    });
    const left = performance.now();
    await leaveAfter(url, 50);
    await nextEvent();
    expect(seen?.aborted).toBe(true);
    expect(firedAt - left).toBeLessThan(200);
    const reason = seen?.reason as PortkeyContextError;
    expect(reason).toBeInstanceOf(PortkeyContextError);
    expect(reason.code).toBe('CLIENT_DISCONNECTED');
    expect(reason.message).toMatch(/\[Portkey trace ID: [0-9a-f]{32}\]$/);
  });

  it('asked for only after the client left, it is already aborted', async () => {
    let signal: AbortSignal | undefined;
    const url = await serve((_req, _res, context) => {
      setTimeout(() => (signal = context.signal), 150);
    });
    await leaveAfter(url, 30);
    await new Promise((r) => setTimeout(r, 200));
    expect(signal?.aborted).toBe(true);
  });

  it('never fires for requests that complete: a POST whose body was read, a slow handler, a streamed response', async () => {
    const signals: AbortSignal[] = [];
    const url = await serve((req, res, context) => {
      signals.push(context.signal!);
      if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        let n = 0;
        const timer = setInterval(() => {
          res.write(`data: ${n}\n\n`);
          if (++n === 5) {
            clearInterval(timer);
            res.end();
          }
        }, 20);
        return;
      }
      req.resume();
      req.on('end', () => setTimeout(() => res.end('ok'), 150)); // body fully read long before the response
    });
    const post = await fetch(`${url}/slow`, { method: 'POST', body: JSON.stringify({ big: 'x'.repeat(100_000) }) });
    expect(await post.text()).toBe('ok');
    const stream = await fetch(`${url}/stream`);
    expect(await stream.text()).toContain('data: 4');
    await nextEvent();
    expect(signals).toHaveLength(2);
    expect(signals.map((s) => s.aborted)).toEqual([false, false]);
  });

  it('abortOnDisconnect: false gives no signal', async () => {
    let signal: AbortSignal | null | undefined = null;
    const url = await serve((_req, res, context) => {
      signal = context.signal;
      res.end();
    }, { abortOnDisconnect: false });
    await fetch(url);
    expect(signal).toBeUndefined();
  });

  it('override scopes share the request signal; runWithPortkeyContext takes one; none outside a context', () => {
    const controller = new AbortController();
    runWithPortkeyContext({ traceId: 'job-1', signal: controller.signal }, () => {
      expect(portkeySignal()).toBe(controller.signal);
      withPortkeyOverrides({ metadata: { step: 'x' } }, () => expect(portkeySignal()).toBe(controller.signal));
    });
    expect(portkeySignal()).toBeUndefined();
    runWithPortkeyContext({ traceId: 'job-2' }, () => expect(portkeySignal()).toBeUndefined());
  });
});
