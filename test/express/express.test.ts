import { connect } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPortkeyContext, portkeyHeaders, withPortkeyOverrides } from 'portkey-context';
import { portkeyMiddleware } from 'portkey-context/express';
import { serveOnLoopback } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';

/** A generated trace ID: 32 hex characters. */
const GENERATED = /^[0-9a-f]{32}$/;
const stack = useGatewayStack();
let app: express.Express;
let server: { url: string; close(): Promise<void> };

/** A stand-in for passport: registered after portkeyMiddleware, sets req.user from a test header. */
function fakeAuth(req: Request, _res: Response, next: NextFunction) {
  const id = req.header('x-test-user');
  if (id) (req as any).user = { id, organisationId: `org-of-${id}` };
  next();
}

async function callGateway(text: string) {
  const res = await fetch(`${stack.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { ...portkeyHeaders(stack.providerOptions), 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: text }] }),
  });
  const body: any = await res.json();
  return { status: res.status, content: body.choices?.[0]?.message?.content, traceEcho: res.headers.get('x-portkey-trace-id') };
}

function sentMetadata(i: number) {
  return JSON.parse(String(stack.gatewayRequests[i]!.headers['x-portkey-metadata']));
}

beforeAll(async () => {
  app = express();
  app.use(portkeyMiddleware({ apiKey: 'pk-app-key', metadata: { app: 'shop' } }));
  app.use(fakeAuth);
  app.use(express.json());
  app.get('/chat', async (req, res) => {
    await new Promise((r) => setTimeout(r, Number(req.query.delay ?? 0)));
    res.json({ ...(await callGateway(String(req.query.q ?? 'hi'))), traceId: req.portkey.traceId });
  });
  app.post('/json', async (req, res) => {
    await new Promise((r) => setTimeout(r, 5));
    res.json({ ...(await callGateway(req.body.question)), traceId: getPortkeyContext().traceId });
  });
  app.get('/nested', (req, res) => {
    const inner = withPortkeyOverrides({ traceId: 'inner-scope' }, () => ({ scope: getPortkeyContext().traceId, request: req.portkey.traceId }));
    setTimeout(() => res.json({ ...inner, later: req.portkey?.traceId }), 1);
  });
  app.get('/context', (req, res) => {
    res.json({ traceId: req.portkey.traceId, metadata: req.portkey.metadata, headers: req.portkey.headers() });
  });
  server = await serveOnLoopback(app);
});
afterAll(async () => {
  await server?.close();
});

describe('portkeyMiddleware with the real gateway', () => {
  it('two overlapping requests each send only their own trace ID and user', async () => {
    const [slow, fast] = await Promise.all([
      request(server.url).get('/chat?delay=120&q=slow').set('x-request-id', 'trace-slow').set('x-test-user', 'alice'),
      request(server.url).get('/chat?delay=0&q=fast').set('x-request-id', 'trace-fast').set('x-test-user', 'bob'),
    ]);
    expect(slow.status).toBe(200);
    expect(fast.status).toBe(200);
    expect(slow.body).toMatchObject({ status: 200, content: 'echo: slow', traceId: 'trace-slow', traceEcho: 'trace-slow' });
    expect(fast.body).toMatchObject({ status: 200, content: 'echo: fast', traceId: 'trace-fast', traceEcho: 'trace-fast' });
    expect(slow.headers['x-portkey-trace-id']).toBe('trace-slow');

    expect(stack.gatewayRequests).toHaveLength(2);
    const byTrace = Object.fromEntries(stack.gatewayRequests.map((r, i) => [r.headers['x-portkey-trace-id'], { i, r }]));
    expect(sentMetadata(byTrace['trace-slow']!.i)).toEqual({ _environment: 'test', app: 'shop', _user: 'alice', _organisation: 'org-of-alice' });
    expect(sentMetadata(byTrace['trace-fast']!.i)).toEqual({ _environment: 'test', app: 'shop', _user: 'bob', _organisation: 'org-of-bob' });
    expect(byTrace['trace-slow']!.r.body.messages[0].content).toBe('slow');
    // the upstream got the calls through the gateway, with the provider auth and without x-portkey-* headers
    expect(stack.stub.requests).toHaveLength(2);
    expect(stack.stub.requests[0]!.headers.authorization).toBe('Bearer sk-stub-provider-key');
  });

  it('keeps the context through express.json() mounted after it', async () => {
    const res = await request(server.url)
      .post('/json')
      .set('x-correlation-id', 'corr-77')
      .set('x-test-user', 'carol')
      .send({ question: 'posted' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ content: 'echo: posted', traceId: 'corr-77', traceEcho: 'corr-77' });
    expect(stack.gatewayRequests[0]!.headers['x-portkey-trace-id']).toBe('corr-77');
    expect(sentMetadata(0)._user).toBe('carol');
  });

  it('never forwards client-sent x-portkey-* headers other than the trace ID', async () => {
    const res = await request(server.url)
      .get('/chat?q=spoof')
      .set('x-portkey-trace-id', 'client-trace')
      .set('x-portkey-api-key', 'pk-stolen')
      .set('x-portkey-config', '{"provider":"openai","api_key":"x"}')
      .set('x-portkey-virtual-key', 'vk-stolen')
      .set('x-portkey-metadata', '{"_user":"admin"}')
      .set('x-test-user', 'dave');
    expect(res.status).toBe(200);
    const sent = stack.gatewayRequests[0]!.headers;
    expect(sent['x-portkey-trace-id']).toBe('client-trace');
    expect(sent['x-portkey-api-key']).toBe('pk-app-key');
    expect(sent['x-portkey-config']).toBeUndefined();
    expect(sent['x-portkey-virtual-key']).toBeUndefined();
    expect(sentMetadata(0)._user).toBe('dave');
  });

  it('replaces hostile incoming trace IDs with a generated one and still answers 200', async () => {
    const hostile = ['abc%0d%0ax-portkey-api-key: evil', 'a'.repeat(10 * 1024), 'trace-é-ü', 'a b;c', '../../etc'];
    for (const value of hostile) {
      stack.reset();
      const raw = await rawGet(`/chat?q=h`, { 'x-request-id': value, 'x-test-user': 'eve' });
      expect(raw.status, value.slice(0, 20)).toBe(200);
      expect(raw.traceId).toMatch(GENERATED);
      expect(stack.gatewayRequests[0]!.headers['x-portkey-trace-id']).toBe(raw.traceId);
      expect(stack.gatewayRequests[0]!.headers['x-portkey-api-key']).toBe('pk-app-key');
    }
  });

  it('sends a hostile user id as safe, bounded metadata and still answers 200', async () => {
    const hostile = `evil\r\nx-portkey-api-key: stolen ${'ü'.repeat(1000)}`;
    const res = await request(server.url).get('/chat?q=x').set('x-test-user', encodeURIComponent(hostile));
    expect(res.status).toBe(200);
    const sent = stack.gatewayRequests[0]!.headers;
    expect(sent['x-portkey-api-key']).toBe('pk-app-key');
    expect(String(sent['x-portkey-metadata'])).toMatch(/^[\x20-\x7e]+$/);
    const metadata = sentMetadata(0);
    expect(metadata._user).toHaveLength(128);
    expect(metadata._organisation).toHaveLength(128);

    // and decoded on the server side, a user object holding raw CR/LF and non-ASCII
    stack.reset();
    const direct = express();
    direct.use(portkeyMiddleware({ apiKey: 'pk-app-key' }));
    direct.use((req, _res, next) => {
      (req as any).user = { id: hostile, organisationId: { id: 'Zoë\u0000' } };
      next();
    });
    direct.get('/chat', async (_req, res) => res.json(await callGateway('direct')));
    const srv = await serveOnLoopback(direct);
    try {
      const res2 = await request(srv.url).get('/chat');
      expect(res2.status).toBe(200);
      expect(res2.body.status).toBe(200);
    } finally {
      await srv.close();
    }
    const decoded = sentMetadata(0);
    expect(decoded._user).toBe(`evilx-portkey-api-key: stolen ${'ü'.repeat(128 - 'evilx-portkey-api-key: stolen '.length)}`);
    expect(decoded._organisation).toBe('Zoë');
    expect(stack.gatewayRequests[0]!.headers['x-portkey-api-key']).toBe('pk-app-key');
  });

  it('req.portkey is the request\'s own context, also inside a nested override scope and after a timer', async () => {
    const res = await request(server.url).get('/nested').set('x-request-id', 'outer-1');
    expect(res.body).toEqual({ scope: 'inner-scope', request: 'outer-1', later: 'outer-1' });
  });

  it('uses the W3C traceparent trace-id when no earlier source has one', async () => {
    const res = await request(server.url).get('/context').set('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect(res.body.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(res.body.headers['x-portkey-api-key']).toBe('pk-app-key');
  });
});

describe('portkeyMiddleware options', () => {
  async function contextFrom(app2: express.Express, headers: Record<string, string> = {}) {
    const srv = await serveOnLoopback(app2);
    try {
      let req = request(srv.url).get('/c');
      for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
      return await req;
    } finally {
      await srv.close();
    }
  }
  const route = (a: express.Express) => a.get('/c', (req, res) => res.json({ traceId: req.portkey.traceId, metadata: req.portkey.metadata }));

  it('renames or turns off the response header, and can distrust incoming IDs', async () => {
    const a = express();
    a.use(portkeyMiddleware({ responseHeader: 'x-trace', trustIncoming: false }));
    route(a);
    const res = await contextFrom(a, { 'x-request-id': 'req-1' });
    expect(res.body.traceId).toMatch(GENERATED);
    expect(res.headers['x-trace']).toBe(res.body.traceId);
    expect(res.headers['x-portkey-trace-id']).toBeUndefined();

    const b = express();
    b.use(portkeyMiddleware({ responseHeader: false, generateTraceId: () => 'fixed-id' }));
    route(b);
    const res2 = await contextFrom(b);
    expect(res2.body.traceId).toBe('fixed-id');
    expect(res2.headers['x-portkey-trace-id']).toBeUndefined();
  });

  it('exposes req.portkey in mounted sub-apps, mounted in the parent or in the sub-app', async () => {
    const parent = express();
    parent.use(portkeyMiddleware());
    const sub = express();
    route(sub);
    parent.use('/sub', sub);
    route(parent);
    const srv = await serveOnLoopback(parent);
    try {
      expect((await request(srv.url).get('/sub/c').set('x-request-id', 'in-sub')).body.traceId).toBe('in-sub');
      expect((await request(srv.url).get('/c').set('x-request-id', 'in-parent')).body.traceId).toBe('in-parent');
    } finally {
      await srv.close();
    }

    const host = express();
    const tenant = express();
    tenant.use(portkeyMiddleware());
    route(tenant);
    host.use('/t', tenant);
    host.get('/plain', (req, res) => res.json({ portkey: req.portkey ?? null }));
    const srv2 = await serveOnLoopback(host);
    try {
      expect((await request(srv2.url).get('/t/c').set('x-request-id', 'tenant-1')).body.traceId).toBe('tenant-1');
      expect((await request(srv2.url).get('/plain')).body).toEqual({ portkey: null });
    } finally {
      await srv2.close();
    }
  });

  it('reads the trace ID from the headers as req.headers has them when an earlier middleware replaced them', async () => {
    // The middleware calls Node's headers getter directly (bench/): what an app put in its place must still win.
    const replacements: [string, (req: Request) => void][] = [
      ['assigned-by-app', (req) => (req.headers = { ...req.headers, 'x-request-id': 'assigned-by-app' })],
      ['own-property', (req) => Object.defineProperty(req, 'headers', { value: { 'x-request-id': 'own-property' }, configurable: true })],
    ];
    for (const [expected, replace] of replacements) {
      const a = express();
      a.use((req, _res, next) => {
        replace(req);
        next();
      });
      a.use(portkeyMiddleware());
      route(a);
      const res = await contextFrom(a, { 'x-request-id': 'from-client' });
      expect(res.body.traceId).toBe(expected);
      expect(res.headers['x-portkey-trace-id']).toBe(expected);
    }
  });

  it('lets metadata(req, defaults) replace or extend the default resolver', async () => {
    const a = express();
    a.use(portkeyMiddleware({ metadata: (req, defaults) => ({ ...defaults, path: req.url, _user: 'override' }) }));
    a.use((req, _res, next) => {
      (req as any).user = { id: 'u-9' };
      next();
    });
    route(a);
    const res = await contextFrom(a);
    expect(res.body.metadata).toEqual({ _environment: 'test', _user: 'override', path: '/c' });
  });

  it('fails at construction for a static option that cannot be a header, without echoing the key', () => {
    expect(() => portkeyMiddleware({ apiKey: 'pk-secret\r\nx: y' })).toThrow(/"apiKey" cannot be sent as a header/);
    expect(() => portkeyMiddleware({ apiKey: 'pk-secret\r\nx: y' })).not.toThrow(/pk-secret/);
    expect(() => portkeyMiddleware({ responseHeader: 'bad header' })).toThrow(/responseHeader/);
  });
});

/** A GET over a raw socket, so header values no HTTP client would send can be sent. */
function rawGet(path: string, headers: Record<string, string>): Promise<{ status: number; traceId: string }> {
  const { port, hostname } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let data = Buffer.alloc(0);
    socket.on('data', (c) => (data = Buffer.concat([data, c])));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = data.toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
      const traceId = /\r\nx-portkey-trace-id: ([^\r]*)\r\n/i.exec(text)?.[1] ?? '';
      resolve({ status, traceId });
    });
    const lines = [`GET ${path} HTTP/1.1`, `Host: ${hostname}`, 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    socket.write(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'));
  });
}
