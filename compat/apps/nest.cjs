// Consumer check: a Nest app with PortkeyModule.forRoot(), on @nestjs/platform-express and then on
// @nestjs/platform-fastify: a guard sets request.user, a controller route reads the context through
// PortkeyContextService and calls the gateway with its headers. Plain JS with decorators applied by
// hand and explicit @Inject tokens (no decorator metadata). `node nest.cjs cjs|esm`.
'use strict';
const { ask, calls, gatewayChat, load, main, providerOptions } = require('./common.cjs');

async function appModule() {
  const { Controller, Get, Inject, Injectable, Module, Query, UseGuards } = await load('@nestjs/common');
  const { PortkeyContextService, PortkeyModule } = await load('portkey-context/nestjs');

  class AuthGuard {
    canActivate(context) {
      const request = context.switchToHttp().getRequest();
      request.user = { id: request.headers['x-user'] };
      return true;
    }
  }
  Injectable()(AuthGuard);

  class AskController {
    constructor(portkey) {
      this.portkey = portkey;
    }
    async ask(q) {
      return { seenTraceId: this.portkey.traceId, ...(await gatewayChat(this.portkey.headers(providerOptions), q)) };
    }
  }
  Inject(PortkeyContextService)(AskController, undefined, 0);
  Query('q')(AskController.prototype, 'ask', 0);
  Get('ask')(AskController.prototype, 'ask', Object.getOwnPropertyDescriptor(AskController.prototype, 'ask'));
  UseGuards(AuthGuard)(AskController);
  Controller()(AskController);

  class AppModule {}
  Module({ imports: [PortkeyModule.forRoot({ apiKey: 'pk-compat' })], controllers: [AskController] })(AppModule);
  return AppModule;
}

main(async () => {
  await load('reflect-metadata');
  const { NestFactory } = await load('@nestjs/core');
  const adapters = {
    express: async () => new (await load('@nestjs/platform-express')).ExpressAdapter(),
    fastify: async () => new (await load('@nestjs/platform-fastify')).FastifyAdapter(),
  };
  const results = [];
  for (const [name, adapter] of Object.entries(adapters)) {
    const app = await NestFactory.create(await appModule(), await adapter(), { logger: ['error', 'warn'] });
    await app.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${app.getHttpServer().address().port}`;
    try {
      const mine = calls.filter((call) => call.adapter === name);
      results.push(...(await Promise.all(mine.map((call) => ask(url, call)))));
    } finally {
      await app.close();
    }
  }
  return results;
});
