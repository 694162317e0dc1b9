/**
 * A recording proxy in front of the gateway: the gateway strips every `x-portkey-*` header before
 * the upstream, so this is where a test sees exactly what the app sent to the gateway.
 */
import { createServer, type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedGatewayRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
  /** Status and headers the gateway answered with. */
  response?: { status: number; headers: IncomingHttpHeaders };
}

export interface RecordingProxy {
  url: string;
  requests: RecordedGatewayRequest[];
  close(): Promise<void>;
}

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const requests: RecordedGatewayRequest[] = [];
  const targetUrl = new URL(target);
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(parts);
      let body: any;
      try {
        body = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
      } catch {
        body = raw.toString('utf8');
      }
      const recorded: RecordedGatewayRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      requests.push(recorded);
      const upstream = httpRequest(
        {
          host: targetUrl.hostname,
          port: targetUrl.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: targetUrl.host },
        },
        (upstreamRes) => {
          recorded.response = { status: upstreamRes.statusCode ?? 0, headers: upstreamRes.headers };
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          upstreamRes.pipe(res);
        },
      );
      upstream.on('error', (err) => {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ proxyError: err.message }));
      });
      upstream.end(raw);
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
