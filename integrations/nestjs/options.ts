import type { IncomingHttpHeaders } from 'node:http';
import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency } from '@nestjs/common';
import type { PortkeyRequestOptions } from '../../src/request-context.js';
import type { RequestEndOptions } from '../../src/request-end.js';

/**
 * The request the module's `metadata(req, defaults)` option receives: the request Nest handles —
 * Express's request on `@nestjs/platform-express`, Fastify's request on `@nestjs/platform-fastify`
 * (where guards such as passport's `AuthGuard` set `user`).
 */
export interface PortkeyNestRequest {
  /** The request headers. */
  headers: IncomingHttpHeaders;
  /** The signed-in user, as auth (a guard, passport) sets it. */
  user?: any;
  [key: string]: any;
}

/**
 * Options of `PortkeyModule.forRoot()`: the app's Portkey defaults for every gateway call made while
 * serving a request (`apiKey`, `virtualKey`, `config`, … — every `PortkeyOptions` field but
 * `traceId`), and the trace-ID and metadata rules of the Express middleware, with the same names and
 * defaults.
 */
export interface PortkeyModuleOptions<Req extends PortkeyNestRequest = PortkeyNestRequest> extends PortkeyRequestOptions<Req>, RequestEndOptions<Req> {
  /**
   * Response header that returns the trace ID to the client; `false` sends none.
   * @default 'x-portkey-trace-id'
   */
  responseHeader?: string | false;
}

/**
 * Options of `PortkeyModule.forRootAsync()`: the module options made by a factory, from providers
 * such as a config service.
 */
export interface PortkeyModuleAsyncOptions {
  /** Modules that export the providers `inject` names (`ConfigModule`, say). */
  imports?: ModuleMetadata['imports'];
  /** Providers passed to `useFactory`, in order. Use tokens or classes: nothing is inferred from types. */
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  /** Makes the module options; may be async. */
  useFactory: (...args: any[]) => PortkeyModuleOptions<any> | Promise<PortkeyModuleOptions<any>>;
}
