import {
  type DynamicModule,
  Global,
  Inject,
  type MiddlewareConsumer,
  Module,
  type NestModule,
  Optional,
  type Provider,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { PortkeyContextError } from '../../src/errors.js';
import { installPortkeyFastifyHooks } from './fastify-hook.js';
import type { PortkeyModuleAsyncOptions, PortkeyModuleOptions, PortkeyNestRequest } from './options.js';
import { PortkeyContextService } from './portkey-context.service.js';
import { compilePortkeyModuleOptions, PortkeyMiddleware } from './portkey.middleware.js';
import { PORTKEY_MODULE_OPTIONS } from './tokens.js';

/**
 * Every route, in a syntax every supported Nest reads: Nest 10 matches `'*'` itself; Nest 11 and 12
 * turn exactly this "all" wildcard into `{*path}` without a warning (`LegacyRouteConverter`).
 * (`'{*path}'` would mount nothing on Nest 10.)
 */
const EVERY_ROUTE = '*';

/**
 * Gives every request of a Nest app a Portkey context — trace ID from the incoming request, user
 * from whatever guard authenticated it — with no other wiring. Import it once, in `AppModule`; it
 * is global, so {@link PortkeyContextService} can be injected everywhere.
 *
 * On `@nestjs/platform-express` it mounts one middleware for every route (`forRoutes('*')`,
 * global prefix and versioning included). On `@nestjs/platform-fastify` it mounts no middleware:
 * the adapter's request hook (the first Fastify `onRequest` hook, before Nest middleware) starts
 * the context from Fastify's request, where guards set `user` (see `installPortkeyFastifyHooks`).
 * No global guard or interceptor.
 *
 * @example
 * ```ts
 * @Module({
 *   imports: [PortkeyModule.forRoot({ virtualKey: process.env.PORTKEY_VIRTUAL_KEY })],
 *   controllers: [AskController],
 * })
 * export class AppModule {}
 * ```
 */
@Global()
// The service is provided without forRoot() too, so a bare `imports: [PortkeyModule]` reaches
// configure(), which names forRoot(), instead of failing in Nest's dependency injection.
@Module({ providers: [PortkeyContextService], exports: [PortkeyContextService] })
export class PortkeyModule implements NestModule {
  readonly #adapterHost: HttpAdapterHost | undefined;
  readonly #options: PortkeyModuleOptions | undefined;

  /**
   * Created by Nest. Explicit tokens, so the built package works without decorator metadata.
   * @param adapterHost - tells Express from Fastify.
   * @param options - the module options; absent when the module is imported without `forRoot()`.
   */
  constructor(
    @Optional() @Inject(HttpAdapterHost) adapterHost?: HttpAdapterHost,
    @Optional() @Inject(PORTKEY_MODULE_OPTIONS) options?: PortkeyModuleOptions,
  ) {
    this.#adapterHost = adapterHost;
    this.#options = options;
  }

  /**
   * The module with static options.
   *
   * @typeParam Req - the request type `metadata(req, defaults)` takes (`FastifyRequest`, Express's `Request`).
   * @param options - the app's Portkey defaults (`apiKey`, `virtualKey`, `config`, …) and the
   *   trace-ID and metadata rules; defaults as for `portkeyMiddleware()`.
   * @returns a global dynamic module exporting {@link PortkeyContextService} and {@link PORTKEY_MODULE_OPTIONS}.
   * @throws {@link PortkeyContextError} `INVALID_OPTION` / `INVALID_HEADER_VALUE` at once for a bad static option (the key is never echoed).
   *
   * @example
   * ```ts
   * PortkeyModule.forRoot({ config: 'pc-support-xxxx', metadata: { app: 'support' } })
   * ```
   */
  static forRoot<Req extends PortkeyNestRequest = PortkeyNestRequest>(options: PortkeyModuleOptions<Req> = {}): DynamicModule {
    compilePortkeyModuleOptions(options as PortkeyModuleOptions);
    return portkeyDynamicModule([], { provide: PORTKEY_MODULE_OPTIONS, useValue: options });
  }

  /**
   * The module with options made by a factory, from other providers (a config service, say).
   *
   * @param options - `imports`, `inject` (tokens or classes) and `useFactory`.
   * @returns a global dynamic module exporting {@link PortkeyContextService} and {@link PORTKEY_MODULE_OPTIONS}.
   * @throws {@link PortkeyContextError} during start-up when the options the factory made are invalid.
   *
   * @example
   * ```ts
   * PortkeyModule.forRootAsync({
   *   imports: [ConfigModule],
   *   inject: [ConfigService],
   *   useFactory: (config: ConfigService) => ({ apiKey: config.get('PORTKEY_API_KEY') }),
   * })
   * ```
   */
  static forRootAsync(options: PortkeyModuleAsyncOptions): DynamicModule {
    if (typeof options?.useFactory !== 'function') {
      throw new PortkeyContextError('INVALID_OPTION', 'PortkeyModule.forRootAsync() needs a useFactory function that returns the module options.');
    }
    return portkeyDynamicModule(options.imports ?? [], {
      provide: PORTKEY_MODULE_OPTIONS,
      useFactory: options.useFactory,
      inject: options.inject ?? [],
    });
  }

  /**
   * Mounts the context for every request; called by Nest while the app starts (`app.init()`), once
   * the HTTP adapter is known and before the routes are registered.
   *
   * @param consumer - Nest's middleware consumer.
   * @throws {@link PortkeyContextError} `INVALID_OPTION` when the module was imported without
   *   `forRoot()` / `forRootAsync()`, or `INVALID_OPTION` / `INVALID_HEADER_VALUE` for a bad option.
   */
  configure(consumer: MiddlewareConsumer): void {
    const options = this.#options;
    if (options === undefined) {
      throw new PortkeyContextError(
        'INVALID_OPTION',
        'PortkeyModule was imported without options: import PortkeyModule.forRoot() or PortkeyModule.forRootAsync({ useFactory }) instead.',
      );
    }
    const adapter = this.#adapterHost?.httpAdapter;
    const app = adapter as (object & { [MOUNTED]?: true }) | undefined;
    if (app?.[MOUNTED]) {
      throw new PortkeyContextError(
        'INVALID_OPTION',
        'PortkeyModule is imported twice with different options (two forRoot() / forRootAsync()): the second would start a second context for every request and its options would win. ' +
          'Import it once, in AppModule (it is global); for options of one feature, use PortkeyContextService.run(overrides, fn) or withPortkeyOverrides().',
      );
    }
    if (app) app[MOUNTED] = true;
    if (adapter?.getType() === 'fastify') {
      // Hooks only: a Nest middleware would run through @fastify/middie on every request.
      installPortkeyFastifyHooks(adapter, compilePortkeyModuleOptions(options));
    } else {
      consumer.apply(PortkeyMiddleware).forRoutes(EVERY_ROUTE);
    }
  }
}

/** Marks the HTTP adapter of an app the module has mounted on (registered: both builds see it). */
const MOUNTED = Symbol.for('portkey-context.nestjs.mounted');

/** The global dynamic module `forRoot` and `forRootAsync` return. */
function portkeyDynamicModule(imports: NonNullable<DynamicModule['imports']>, optionsProvider: Provider): DynamicModule {
  return {
    module: PortkeyModule,
    global: true,
    imports,
    providers: [optionsProvider, PortkeyContextService],
    exports: [PORTKEY_MODULE_OPTIONS, PortkeyContextService],
  };
}
