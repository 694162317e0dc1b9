import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import {
  createRequestContextFactory,
  type ResponseLike,
  type PortkeyRequestContext,
  portkeyContextStorage,
  traceIdResponseHeader,
} from '../../src/index.js';
import type { PortkeyModuleOptions, PortkeyNestRequest } from './options.js';
import { PORTKEY_MODULE_OPTIONS } from './tokens.js';

/** The request as the middleware sees it: Express's request (Node's request under other adapters). */
export type PortkeyMiddlewareRequest = IncomingMessage & { user?: any };

/**
 * Checks the module options and builds the per-request context factory from them.
 *
 * @param options - the module options.
 * @returns the context factory and the response header to set (`false` for none).
 * @throws {@link PortkeyContextError} `INVALID_OPTION` / `INVALID_HEADER_VALUE` for a bad static option.
 */
export function compilePortkeyModuleOptions(options: PortkeyModuleOptions = {}): {
  createContext: (request: PortkeyNestRequest, response?: ResponseLike) => PortkeyRequestContext<PortkeyNestRequest>;
  responseHeader: string | false;
} {
  const createContext = createRequestContextFactory<PortkeyNestRequest>(options);
  const responseHeader = traceIdResponseHeader(Object.hasOwn(options, 'responseHeader') ? options.responseHeader : undefined);
  return { createContext, responseHeader };
}

/**
 * The Nest middleware `PortkeyModule` mounts for every route on Express (and on any adapter but
 * Fastify, where hooks start the context instead: see `installPortkeyFastifyHooks`): it runs the
 * rest of the request inside the request's Portkey context (`AsyncLocalStorage.run`, never
 * `enterWith`) and returns the trace ID in the response header.
 *
 * It does not put the context on `req` (the service and the decorators read it from the store):
 * adding a property to every request measurably slowed a Nest hello-world in `bench/`.
 *
 * Not exported from the package: `PortkeyModule` mounts it.
 */
@Injectable()
export class PortkeyMiddleware implements NestMiddleware {
  readonly #createContext: (request: PortkeyNestRequest, response?: ResponseLike) => PortkeyRequestContext<PortkeyNestRequest>;
  readonly #responseHeader: string | false;

  /**
   * @param options - the module options (explicit token: works without decorator metadata).
   * @throws {@link PortkeyContextError} for a bad static option, when Nest creates the middleware at start-up.
   */
  constructor(@Inject(PORTKEY_MODULE_OPTIONS) options: PortkeyModuleOptions) {
    const compiled = compilePortkeyModuleOptions(options);
    this.#createContext = compiled.createContext;
    this.#responseHeader = compiled.responseHeader;
  }

  /**
   * Runs `next` inside a new context for `req`.
   *
   * @param req - Express's request.
   * @param res - Express's response (a Node `ServerResponse`).
   * @param next - the rest of the request.
   */
  use(req: PortkeyMiddlewareRequest, res: ServerResponse, next: (error?: unknown) => void): void {
    const context = this.#createContext(req, res);
    if (this.#responseHeader) res.setHeader(this.#responseHeader, context.traceId);
    portkeyContextStorage.run(context, next);
  }
}
