/**
 * A recording proxy in front of the gateway: the gateway strips every `x-portkey-*` header before
 * the upstream, so this is where a test sees exactly what the app sent to the gateway.
 *
 * A request is recorded as soon as its headers arrive (the body is filled in when it ends), and the
 * body is streamed through to the gateway. If the app goes away before the answer was written, the
 * proxy drops its own request to the gateway at once, so the gateway sees the disconnect too.
 */
import { createServer, type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface RecordedGatewayRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (or the raw text); `undefined` until the app's request body has ended. */
  body: any;
  /** Status and headers the gateway answered with. */
  response?: { status: number; headers: IncomingHttpHeaders };
  /** `performance.now()` when the app's request headers arrived (the `request` event, before the body). */
  receivedAt: number;
  /** `performance.now()` when the app's side of the exchange closed (unset while open). */
  closedAt?: number;
  /** True when the app closed its connection/request before the proxy finished writing the response. */
  clientAborted: boolean;
  /** Set when the proxy's own exchange with the gateway failed: a connection error, or a response cut short. */
  upstreamError?: string;
}

export interface RecordingProxy {
  url: string;
  requests: RecordedGatewayRequest[];
  close(): Promise<void>;
}

function parseBody(raw: Buffer): any {
  if (!raw.length) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return raw.toString('utf8');
  }
}

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const requests: RecordedGatewayRequest[] = [];
  const targetUrl = new URL(target);
  // Large enough to pass oversized headers on to the gateway, whose own answer (431) is what tests check.
  const server = createServer({ maxHeaderSize: 65_536 }, (req, res) => {
    const recorded: RecordedGatewayRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: undefined,
      receivedAt: performance.now(),
      clientAborted: false,
    };
    requests.push(recorded);
    /** True when the proxy itself cut the app's response short (the gateway's answer broke off). */
    let proxyDestroyed = false;

    const upstream = httpRequest({
      host: targetUrl.hostname,
      port: targetUrl.port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, host: targetUrl.host },
    });

    res.on('close', () => {
      recorded.closedAt = performance.now();
      if (!res.writableFinished && !proxyDestroyed) {
        recorded.clientAborted = true;
        // Pass the disconnect on: the gateway must see its client go away.
        upstream.destroy();
      }
    });

    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      recorded.body = parseBody(Buffer.concat(parts));
    });
    // An app that aborts mid-body makes `req` emit 'error' (aborted); `res` 'close' handles the rest.
    req.on('error', () => {});
    res.on('error', () => {});
    req.pipe(upstream);

    upstream.on('response', (upstreamRes) => {
      recorded.response = { status: upstreamRes.statusCode ?? 0, headers: upstreamRes.headers };
      upstreamRes.on('error', (err) => {
        if (!recorded.clientAborted) recorded.upstreamError ??= err.message;
      });
      upstreamRes.on('close', () => {
        if (upstreamRes.complete || res.writableFinished || res.destroyed) return;
        // The gateway's answer broke off: break the app's response off the same way.
        recorded.upstreamError ??= 'gateway response ended before it was complete';
        proxyDestroyed = true;
        res.destroy();
      });
      if (res.destroyed) {
        upstreamRes.destroy();
        return;
      }
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      upstreamRes.pipe(res);
    });
    upstream.on('error', (err) => {
      if (recorded.clientAborted || res.destroyed) return;
      recorded.upstreamError ??= err.message;
      if (res.headersSent) {
        proxyDestroyed = true;
        res.destroy();
        return;
      }
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ proxyError: err.message }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
