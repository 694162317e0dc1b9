// One benchmark server per process: `node bench/servers.mjs <variant>`; prints its port over IPC.
// Variants are the same hello-world app with a different request-context middleware in front.
import { AsyncLocalStorage } from 'node:async_hooks';
import express from 'express';
import { generateTraceId } from 'portkey-context';
import { portkeyMiddleware } from 'portkey-context/express';

const variant = process.argv[2];

// The bench asks for this process's CPU time over IPC, to report CPU per request.
process.on('message', () => process.send(process.cpuUsage()));

if (variant.startsWith('nest-')) await startNest(variant);
else await startExpress(variant);

async function startExpress(variant) {
  const app = express();
  app.disable('x-powered-by');
  let body = 'hello';
  if (variant === 'express-als') {
    // The least any request context costs: a bare AsyncLocalStorage.run(store, next).
    const als = new AsyncLocalStorage();
    app.use(function alsContext(req, _res, next) {
      als.run({ req }, next);
    });
  } else if (variant === 'express-portkey') {
    app.use(portkeyMiddleware({ apiKey: 'pk-bench' }));
  } else if (variant === 'express-portkey-noheader') {
    app.use(portkeyMiddleware({ apiKey: 'pk-bench', responseHeader: false }));
  } else if (variant.startsWith('express-als-')) {
    // Diagnostic: the floor plus one piece of what the middleware does, or a yardstick.
    const diagnostic = await diagnosticMiddleware(variant.slice('express-als-'.length));
    if (diagnostic.body !== undefined) body = diagnostic.body;
    app.use(diagnostic.middleware);
  } else if (variant !== 'express-bare') {
    throw new Error(`unknown variant ${variant}`);
  }
  app.get('/', (_req, res) => {
    res.send(body);
  });
  const server = app.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
}

/**
 * The diagnostic variants `express-als-<name>`: the bare als.run floor with `before(req, res)` run
 * first and `store(req, res)` as its store (run only when BENCH_PAIRS names them; see run.mjs).
 */
async function diagnosticMiddleware(name) {
  let before;
  let store = (req) => ({ req });
  let body;
  if (name === 'id') {
    // a generated trace ID in the store
    store = (req) => ({ req, traceId: generateTraceId() });
  } else if (name === 'header') {
    // a constant response header of a trace ID's length
    before = (_req, res) => res.setHeader('x-portkey-trace-id', '0123456789abcdef0123456789abcdef');
  } else if (name === 'idheader') {
    // a generated trace ID, in the store and the response header
    store = (req, res) => {
      const traceId = generateTraceId();
      res.setHeader('x-portkey-trace-id', traceId);
      return { req, traceId };
    };
  } else if (name === 'getter') {
    // a getter defined once on the request's prototype, as req.portkey is
    let defined = false;
    before = (req) => {
      if (defined) return;
      Object.defineProperty(Object.getPrototypeOf(req), 'portkey', { get: () => undefined, configurable: true });
      defined = true;
    };
  } else if (name === 'ctx') {
    // the middleware's own context object (trace ID read from the headers or generated) as the store
    const { compileRequestOptions } = await import('../dist/esm/src/request-context.js');
    const { createContext } = compileRequestOptions({ apiKey: 'pk-bench' });
    store = (req, res) => createContext(req, res);
  } else if (name === 'body52') {
    // nothing more done, 52 more bytes answered (a trace ID header's length)
    body = `hello${'x'.repeat(52)}`;
  } else if (/^spin\d+$/.test(name)) {
    // pure JavaScript work of a known cost, `spin<ns>`, calibrated at start: what the pair makes of compute alone
    before = spinFor(Number(name.slice(4)));
  } else {
    throw new Error(`unknown variant express-als-${name}`);
  }
  const als = new AsyncLocalStorage();
  const middleware = before
    ? function alsContextDiagnostic(req, res, next) {
        before(req, res);
        als.run(store(req, res), next);
      }
    : function alsContextDiagnostic(req, res, next) {
        als.run(store(req, res), next);
      };
  return { middleware, body };
}

/** A function doing ~`ns` nanoseconds of arithmetic (no allocation), calibrated in this process. */
function spinFor(ns) {
  let sink = 0;
  const spin = (n) => {
    let x = sink;
    for (let i = 0; i < n; i++) x = (x * 31 + i) | 0;
    sink = x;
  };
  for (let i = 0; i < 2000; i++) spin(1000);
  const started = process.hrtime.bigint();
  for (let i = 0; i < 2000; i++) spin(1000);
  const iterations = Math.round(ns / (Number(process.hrtime.bigint() - started) / 2e6));
  return () => spin(iterations);
}

// Nest hello-world: `nest-[fastify-]{bare,als,portkey}`. Decorators are applied by hand (plain JS).
//   bare:    no request context;
//   als:     a bare AsyncLocalStorage.run(store, next) middleware, applied forRoutes('{*path}');
//   portkey: PortkeyModule.forRoot().
async function startNest(variant) {
  const [, platform, kind] = /^nest-(?:(fastify)-)?(bare|als|portkey)$/.exec(variant) ?? [];
  if (!kind) throw new Error(`unknown variant ${variant}`);
  const { Controller, Get, Module } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const { PortkeyModule } = await import('portkey-context/nestjs');

  class HelloController {
    hello() {
      return 'hello';
    }
  }
  Get()(HelloController.prototype, 'hello', Object.getOwnPropertyDescriptor(HelloController.prototype, 'hello'));
  Controller()(HelloController);

  const als = new AsyncLocalStorage();
  class AppModule {
    configure(consumer) {
      if (kind !== 'als') return;
      consumer
        .apply(function alsContext(req, _res, next) {
          als.run({ req }, next);
        })
        .forRoutes('{*path}');
    }
  }
  const imports = kind === 'portkey' ? [PortkeyModule.forRoot({ apiKey: 'pk-bench' })] : [];
  Module({ imports, controllers: [HelloController] })(AppModule);

  const adapter =
    platform === 'fastify'
      ? new (await import('@nestjs/platform-fastify')).FastifyAdapter()
      : new (await import('@nestjs/platform-express')).ExpressAdapter();
  const app = await NestFactory.create(AppModule, adapter, { logger: false });
  if (platform !== 'fastify') app.getHttpAdapter().getInstance().disable('x-powered-by');
  await app.listen(0, '127.0.0.1');
  process.send?.({ port: app.getHttpServer().address().port });
}
