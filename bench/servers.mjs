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
else startExpress(variant);

function startExpress(variant) {
  const app = express();
  app.disable('x-powered-by');
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
  } else if (variant === 'express-als-id') {
    // Diagnostic: the bare floor plus a generated trace ID in the store.
    const als = new AsyncLocalStorage();
    app.use(function alsContextWithId(req, _res, next) {
      als.run({ req, traceId: generateTraceId() }, next);
    });
  } else if (variant === 'express-als-header') {
    // Diagnostic: the bare floor plus a constant response header of a trace ID's length.
    const als = new AsyncLocalStorage();
    app.use(function alsContextWithHeader(req, res, next) {
      res.setHeader('x-portkey-trace-id', '0123456789abcdef0123456789abcdef');
      als.run({ req }, next);
    });
  } else if (variant === 'express-als-idheader') {
    // Diagnostic: the bare floor plus a generated trace ID, returned in the response header.
    const als = new AsyncLocalStorage();
    app.use(function alsContextWithIdHeader(req, res, next) {
      const traceId = generateTraceId();
      res.setHeader('x-portkey-trace-id', traceId);
      als.run({ req, traceId }, next);
    });
  } else if (variant !== 'express-bare') {
    throw new Error(`unknown variant ${variant}`);
  }
  app.get('/', (_req, res) => {
    res.send('hello');
  });
  const server = app.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
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
