import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { VersioningType } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PortkeyContextError, runWithPortkeyContext } from 'portkey-context';
import { PortkeyContextService, PortkeyModule } from 'portkey-context/nestjs';
import { type GatewayStack, startGatewayStack } from '../harness/index.js';
import { asyncPortkeyModule, createAppModule, forRootOptions } from './app.js';

/** A generated trace ID: 32 hex characters. */
const GENERATED = /^[0-9a-f]{32}$/;
const stackRef: { current?: GatewayStack } = {};
let stack: GatewayStack;

beforeAll(async () => {
  stack = await startGatewayStack();
  stackRef.current = stack;
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => stack.reset());

const adapters = [
  { name: 'express', create: () => new ExpressAdapter() },
  { name: 'fastify', create: () => new FastifyAdapter() },
] as const;

async function startApp(
  adapter: (typeof adapters)[number],
  portkey: Parameters<typeof createAppModule>[0],
  setup?: (app: INestApplication) => void,
) {
  const moduleRef = await Test.createTestingModule({ imports: [createAppModule(portkey, stackRef)] }).compile();
  const app = moduleRef.createNestApplication(adapter.create() as any, { logger: false });
  setup?.(app);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}` };
}

/** The metadata a gateway request carried, by its trace ID. */
function sentByTrace(traceId: string) {
  const found = stack.gatewayRequests.filter((r) => r.headers['x-portkey-trace-id'] === traceId);
  expect(found, `gateway requests with trace ${traceId}`).toHaveLength(1);
  const headers = found[0]!.headers;
  return { headers, metadata: JSON.parse(String(headers['x-portkey-metadata'])) };
}

describe.each(adapters)('PortkeyModule on $name', (adapter) => {
  describe('forRoot, with a global prefix and URI versioning', () => {
    let app: INestApplication;
    let url: string;
    beforeAll(async () => {
      ({ app, url } = await startApp(adapter, PortkeyModule.forRoot(forRootOptions), (a) => {
        a.setGlobalPrefix('api');
        a.enableVersioning({ type: VersioningType.URI });
      }));
    });
    afterAll(async () => {
      await app?.close();
    });

    it('overlapping requests each send their own trace ID and guard-set user to the real gateway', async () => {
      const [slow, fast] = await Promise.all([
        request(url).get('/api/chat?delay=150&q=slow').set('x-request-id', 'trace-slow').set('x-test-user', 'alice'),
        request(url).get('/api/chat?delay=0&q=fast').set('x-request-id', 'trace-fast').set('x-test-user', 'bob'),
      ]);
      expect(slow.status).toBe(200);
      expect(fast.status).toBe(200);
      expect(slow.body).toMatchObject({ status: 200, content: 'echo: slow', traceId: 'trace-slow', traceEcho: 'trace-slow', user: 'alice' });
      expect(fast.body).toMatchObject({ status: 200, content: 'echo: fast', traceId: 'trace-fast', traceEcho: 'trace-fast', user: 'bob' });
      expect(slow.headers['x-portkey-trace-id']).toBe('trace-slow');
      expect(fast.headers['x-portkey-trace-id']).toBe('trace-fast');

      expect(stack.gatewayRequests).toHaveLength(2);
      const s = sentByTrace('trace-slow');
      const f = sentByTrace('trace-fast');
      expect(s.metadata).toEqual({ _environment: 'test', app: 'shop', _user: 'alice', _organisation: 'org-of-alice' });
      expect(f.metadata).toEqual({ _environment: 'test', app: 'shop', _user: 'bob', _organisation: 'org-of-bob' });
      expect(s.headers['x-portkey-api-key']).toBe('pk-app-key');
      expect(stack.stub.requests).toHaveLength(2);
      expect(stack.stub.requests[0]!.headers.authorization).toBe('Bearer sk-stub-provider-key');
    });

    it('guard, interceptor (before and after), user middleware and handler see the same trace ID', async () => {
      const res = await request(url).get('/api/chat?q=same').set('x-correlation-id', 'corr-1').set('x-test-user', 'carol');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        traceId: 'corr-1',
        handlerTraceId: 'corr-1',
        guardTraceId: 'corr-1',
        interceptorTraceId: 'corr-1',
        interceptorAfterTraceId: 'corr-1',
        userAfterAwait: 'carol',
      });
      const ctx = await request(url).get('/api/context').set('x-request-id', 'mw-1');
      expect(ctx.body.middlewareTraceId).toBe('mw-1');
    });

    it('keeps the context through a JSON body (parsed after the middleware on Fastify)', async () => {
      const res = await request(url).post('/api/json').set('x-request-id', 'json-1').set('x-test-user', 'dora').send({ question: 'posted' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ content: 'echo: posted', traceId: 'json-1', traceEcho: 'json-1', user: 'dora' });
      expect(sentByTrace('json-1').metadata._user).toBe('dora');
    });

    it('keeps the context when the JSON body arrives in chunks, after the headers', async () => {
      const body = JSON.stringify({ question: 'slow-body' });
      const res = await slowPost(`${url}/api/json`, { 'x-request-id': 'chunked-1', 'x-test-user': 'dina' }, body);
      expect(res.status).toBe(201);
      expect(JSON.parse(res.body)).toMatchObject({ content: 'echo: slow-body', traceId: 'chunked-1', user: 'dina' });
      expect(sentByTrace('chunked-1').metadata._user).toBe('dina');
    });

    it('mounts the context on URI-versioned routes under the global prefix', async () => {
      const res = await request(url).get('/api/v1/versioned').set('x-request-id', 'ver-1').set('x-test-user', 'erin');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ traceId: 'ver-1', traceEcho: 'ver-1', user: 'erin', content: 'echo: versioned' });
      expect(res.headers['x-portkey-trace-id']).toBe('ver-1');
      expect(sentByTrace('ver-1').metadata).toMatchObject({ _user: 'erin', _organisation: 'org-of-erin' });
    });

    it('an exception filter reads the trace ID and user of the request', async () => {
      const res = await request(url).get('/api/boom').set('x-request-id', 'boom-1').set('x-test-user', 'frank');
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ statusCode: 403, message: 'no entry', traceId: 'boom-1', user: 'frank' });
      expect(res.headers['x-portkey-trace-id']).toBe('boom-1');
    });

    it('the decorators and the service give the context; run() scopes overrides', async () => {
      const res = await request(url).get('/api/context').set('x-test-user', 'gina');
      expect(res.status).toBe(200);
      const { body } = res;
      expect(body.traceId).toMatch(GENERATED);
      expect(res.headers['x-portkey-trace-id']).toBe(body.traceId);
      expect(body.serviceTraceId).toBe(body.traceId);
      expect(body.metadata).toEqual({ _environment: 'test', app: 'shop', _user: 'gina', _organisation: 'org-of-gina' });
      expect(body.serviceMetadata).toEqual(body.metadata);
      expect(body.headers['x-portkey-trace-id']).toBe(body.traceId);
      expect(body.headers['x-portkey-api-key']).toBe('pk-app-key');
      expect(JSON.parse(body.scoped['x-portkey-metadata'])).toMatchObject({ _user: 'gina', feature: 'scoped' });
      expect(body.scoped['x-portkey-cache-namespace']).toBe('ns');
      expect(body.afterScope['x-portkey-cache-namespace']).toBeUndefined();
    });

    it('never forwards client-sent x-portkey-* headers other than the trace ID', async () => {
      const res = await request(url)
        .get('/api/chat?q=spoof')
        .set('x-portkey-trace-id', 'client-trace')
        .set('x-portkey-api-key', 'pk-stolen')
        .set('x-portkey-config', '{"provider":"openai","api_key":"x"}')
        .set('x-portkey-virtual-key', 'vk-stolen')
        .set('x-portkey-metadata', '{"_user":"admin"}')
        .set('x-test-user', 'hank');
      expect(res.status).toBe(200);
      const sent = sentByTrace('client-trace');
      expect(sent.headers['x-portkey-api-key']).toBe('pk-app-key');
      expect(sent.headers['x-portkey-config']).toBeUndefined();
      expect(sent.headers['x-portkey-virtual-key']).toBeUndefined();
      expect(sent.metadata._user).toBe('hank');
    });

    it('does not carry a context over to the next request on a keep-alive connection', async () => {
      const agent = request.agent(url);
      const first = await agent.get('/api/context').set('x-request-id', 'first-on-socket').set('x-test-user', 'ivy');
      const second = await agent.get('/api/context');
      expect(first.body.traceId).toBe('first-on-socket');
      expect(second.body.traceId).toMatch(GENERATED);
      expect(second.body.metadata._user).toBeUndefined();
    });

    it('the service throws NO_CONTEXT outside a request, and works inside runWithPortkeyContext', () => {
      const service = app.get(PortkeyContextService);
      const thrown = (() => {
        try {
          return service.traceId;
        } catch (err) {
          return err;
        }
      })();
      expect(thrown).toBeInstanceOf(PortkeyContextError);
      expect((thrown as PortkeyContextError).code).toBe('NO_CONTEXT');
      expect((thrown as Error).message).toMatch(/PortkeyModule\.forRoot\(\)/);
      expect(() => service.metadata).toThrow(PortkeyContextError);
      expect(() => service.headers()).toThrow(/No Portkey context/);
      expect(runWithPortkeyContext({ traceId: 'job-1' }, () => service.traceId)).toBe('job-1');
      expect(service.run({ traceId: 'scope-1' }, () => service.traceId)).toBe('scope-1');
    });
  });

  describe('forRootAsync with a config provider, no prefix', () => {
    let app: INestApplication;
    let url: string;
    beforeAll(async () => {
      ({ app, url } = await startApp(adapter, asyncPortkeyModule()));
    });
    afterAll(async () => {
      await app?.close();
    });

    it('sends the API key from the config service and the metadata(req, defaults) of the factory', async () => {
      const res = await request(url).get('/chat?q=async').set('x-request-id', 'async-1').set('x-test-user', 'jack');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ traceId: 'async-1', traceEcho: 'async-1', user: 'jack', content: 'echo: async' });
      expect(res.headers['x-trace']).toBe('async-1');
      expect(res.headers['x-portkey-trace-id']).toBeUndefined();
      const sent = sentByTrace('async-1');
      expect(sent.headers['x-portkey-api-key']).toBe('pk-from-config');
      expect(sent.metadata).toEqual({ _environment: 'test', _user: 'jack', _organisation: 'org-of-jack', app: 'async-app', path: '/chat' });
    });

    it('exports the options token to the app', async () => {
      const res = await request(url).get('/options');
      expect(res.body).toEqual({ apiKey: 'pk-from-config' });
    });
  });
});

describe('PortkeyModule options', () => {
  it('forRoot fails at once for a static option that cannot be a header, without echoing it', () => {
    expect(() => PortkeyModule.forRoot({ apiKey: 'pk-secret\r\nx: y' })).toThrow(/"apiKey" cannot be sent as a header/);
    expect(() => PortkeyModule.forRoot({ apiKey: 'pk-secret\r\nx: y' })).not.toThrow(/pk-secret/);
    expect(() => PortkeyModule.forRoot({ responseHeader: 'bad header' })).toThrow(/responseHeader/);
    expect(() => PortkeyModule.forRootAsync({} as never)).toThrow(/useFactory/);
  });

  it('forRootAsync fails at start-up when the factory makes a bad option', async () => {
    const module = PortkeyModule.forRootAsync({ useFactory: () => ({ virtualKey: 'vk\nbad' }) });
    const moduleRef = await Test.createTestingModule({ imports: [createAppModule(module, stackRef)] }).compile();
    const app = moduleRef.createNestApplication(new ExpressAdapter(), { logger: false });
    await expect(app.init()).rejects.toThrow(/"virtualKey" cannot be sent as a header/);
    await app.close().catch(() => {});
  });
});

/** A POST whose body is sent in two chunks, 30 ms after the headers: it is parsed in the socket's async context. */
function slowPost(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.flushHeaders();
    const half = Math.floor(body.length / 2);
    setTimeout(() => req.write(body.slice(0, half)), 30);
    setTimeout(() => req.end(body.slice(half)), 60);
  });
}
