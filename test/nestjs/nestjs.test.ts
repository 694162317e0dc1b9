import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { VersioningType } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PortkeyContextError, runWithPortkeyContext, tryGetPortkeyContext } from 'portkey-context';
import { PortkeyContextService, PortkeyModule } from 'portkey-context/nestjs';
import { useGatewayStack } from '../harness/use-gateway-stack.js';
import { asyncPortkeyModule, createAppModule, forRootOptions } from './app.js';

/** A generated trace ID: 32 hex characters. */
const GENERATED = /^[0-9a-f]{32}$/;
const stack = useGatewayStack();

const adapters = [
  { name: 'express', create: () => new ExpressAdapter() },
  { name: 'fastify', create: () => new FastifyAdapter() },
] as const;

async function startApp(
  adapter: (typeof adapters)[number],
  portkey: Parameters<typeof createAppModule>[0],
  setup?: (app: INestApplication) => void,
) {
  const moduleRef = await Test.createTestingModule({ imports: [createAppModule(portkey, stack)] }).compile();
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
        a.use((req: any, _res: unknown, next: () => void) => {
          req.appUseTraceId = tryGetPortkeyContext()?.traceId ?? 'none';
          next();
        });
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

    it('a withPortkeyOverrides scope a user middleware opens keeps the request: trace ID, guard-set user and scope metadata', async () => {
      const res = await request(url).get('/api/scoped').set('x-request-id', 'scoped-1').set('x-test-user', 'kate');
      expect(res.status).toBe(200);
      const metadata = { _environment: 'test', app: 'shop', _user: 'kate', _organisation: 'org-of-kate', scope: 'middleware' };
      expect(res.body).toMatchObject({ traceId: 'scoped-1', traceEcho: 'scoped-1', metadata });
      expect(res.headers['x-portkey-trace-id']).toBe('scoped-1');
      expect(sentByTrace('scoped-1').metadata).toEqual(metadata);
    });

    it(`app.use() middleware ${adapter.name === 'fastify' ? 'sees the context (the hook that starts it runs before @fastify/middie)' : 'runs before the context'}`, async () => {
      const res = await request(url).get('/api/context').set('x-request-id', 'app-use-1');
      expect(res.body.traceId).toBe('app-use-1');
      expect(res.body.appUseTraceId).toBe(adapter.name === 'fastify' ? 'app-use-1' : 'none');
    });

    it('returns the trace ID on a 404 (and, on Fastify, where the context starts before body parsing, on a malformed JSON body)', async () => {
      const missing = await request(url).get('/api/nowhere').set('x-request-id', 'nf-1');
      expect(missing.status).toBe(404);
      expect(missing.headers['x-portkey-trace-id']).toBe('nf-1');
      const malformed = await request(url).post('/api/json').set('x-request-id', 'bad-json-1').set('content-type', 'application/json').send('{"question":');
      expect(malformed.status).toBe(400);
      // On Express, Nest's body parser is app-level middleware, ahead of Nest middleware.
      if (adapter.name === 'fastify') expect(malformed.headers['x-portkey-trace-id']).toBe('bad-json-1');
      expect(stack.gatewayRequests).toHaveLength(0);
    });

    it('keeps the context through a JSON body (parsed after the context starts)', async () => {
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

describe.each(adapters)('PortkeyModule on $name with responseHeader: false', (adapter) => {
  let app: INestApplication;
  let url: string;
  beforeAll(async () => {
    ({ app, url } = await startApp(adapter, PortkeyModule.forRoot({ ...forRootOptions, responseHeader: false })));
  });
  afterAll(async () => {
    await app?.close();
  });

  it('sends no trace ID header, and the request still has its context', async () => {
    const res = await request(url).get('/chat?q=quiet').set('x-request-id', 'quiet-1').set('x-test-user', 'liam');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ traceId: 'quiet-1', traceEcho: 'quiet-1', user: 'liam' });
    expect(res.headers['x-portkey-trace-id']).toBeUndefined();
    const missing = await request(url).get('/nowhere');
    expect(missing.status).toBe(404);
    expect(missing.headers['x-portkey-trace-id']).toBeUndefined();
  });
});

/**
 * On Fastify the context starts in the adapter's request hook (`setOnRequestHook`), the first
 * `onRequest` hook, ahead of @fastify/middie. A hook the app gives the adapter itself — before
 * start-up, or after it (as Nest's observe agent does in `onModuleInit`) — is kept: it runs next,
 * inside the context, whether it calls `done` or returns a promise.
 */
describe('PortkeyModule on fastify with an app hook on the adapter (setOnRequestHook)', () => {
  const fastify = adapters[1];
  const cases = [
    { name: 'set before start-up, calling done', before: true, async: false },
    { name: 'set after start-up, returning a promise', before: false, async: true },
  ];

  it.each(cases)('$name: the context still starts before Nest middleware and the app hook runs inside it', async ({ before, async }) => {
    const seenByAppHook: string[] = [];
    const appHook = async
      ? async (req: any) => {
          await new Promise((r) => setTimeout(r, 1));
          if (req.headers['x-reject']) throw new Error('rejected by the app hook');
          seenByAppHook.push(`${req.headers['x-request-id']}:${tryGetPortkeyContext()?.traceId}`);
        }
      : (req: any, _reply: unknown, done: () => void) => {
          seenByAppHook.push(`${req.headers['x-request-id']}:${tryGetPortkeyContext()?.traceId}`);
          done();
        };
    const moduleRef = await Test.createTestingModule({ imports: [createAppModule(PortkeyModule.forRoot(forRootOptions), stack)] }).compile();
    const httpAdapter = fastify.create();
    const app = moduleRef.createNestApplication(httpAdapter, { logger: false });
    try {
      if (before) httpAdapter.setOnRequestHook(appHook);
      await app.init();
      if (!before) httpAdapter.setOnRequestHook(appHook);
      await app.listen(0, '127.0.0.1');
      const url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;

      const [chat, ctx] = await Promise.all([
        request(url).get('/chat?q=hooked&delay=50').set('x-request-id', 'hk-chat').set('x-test-user', 'mia'),
        request(url).get('/context').set('x-request-id', 'hk-ctx').set('x-test-user', 'noah'),
      ]);
      expect(chat.body).toMatchObject({ traceId: 'hk-chat', traceEcho: 'hk-chat', guardTraceId: 'hk-chat', interceptorAfterTraceId: 'hk-chat', user: 'mia' });
      expect(chat.headers['x-portkey-trace-id']).toBe('hk-chat');
      expect(sentByTrace('hk-chat').metadata).toMatchObject({ _user: 'mia', _organisation: 'org-of-mia' });
      expect(ctx.body).toMatchObject({ traceId: 'hk-ctx', serviceTraceId: 'hk-ctx', middlewareTraceId: 'hk-ctx' });
      expect(ctx.body.metadata._user).toBe('noah');

      const scoped = await request(url).get('/scoped').set('x-request-id', 'hk-scoped').set('x-test-user', 'olga');
      expect(scoped.body).toMatchObject({ traceId: 'hk-scoped', metadata: { _user: 'olga', scope: 'middleware' } });

      const body = JSON.stringify({ question: 'hooked-body' });
      const posted = await slowPost(`${url}/json`, { 'x-request-id': 'hk-json', 'x-test-user': 'pia' }, body);
      expect(JSON.parse(posted.body)).toMatchObject({ content: 'echo: hooked-body', traceId: 'hk-json', user: 'pia' });

      const agent = request.agent(url);
      await agent.get('/context').set('x-request-id', 'hk-first');
      const second = await agent.get('/context');
      expect(second.body.traceId).toMatch(GENERATED);
      expect(second.body.middlewareTraceId).toBe(second.body.traceId);

      expect(seenByAppHook).toEqual(expect.arrayContaining(['hk-chat:hk-chat', 'hk-ctx:hk-ctx', 'hk-scoped:hk-scoped', 'hk-json:hk-json', 'hk-first:hk-first']));
      if (async) {
        const rejected = await request(url).get('/context').set('x-request-id', 'hk-rejected').set('x-reject', '1');
        expect(rejected.status).toBe(500);
        expect(rejected.headers['x-portkey-trace-id']).toBe('hk-rejected');
      }
    } finally {
      await app.close();
    }
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
    const moduleRef = await Test.createTestingModule({ imports: [createAppModule(module, stack)] }).compile();
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
