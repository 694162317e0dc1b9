import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import { portkeyContextStorage } from '../../src/context.js';
// Internal: shared with the Express middleware, not part of the package's public API.
import { compileRequestOptions } from '../../src/request-context.js';
import type { PortkeyModuleOptions, PortkeyNestRequest } from './options.js';
import { PORTKEY_MODULE_OPTIONS } from './tokens.js';

/** The request as the middleware sees it: Express's request (Node's request under other adapters). */
export type PortkeyMiddlewareRequest = IncomingMessage & { user?: any };

/** Runs the rest of a request (`next`) inside its new Portkey context, the trace ID set on the response. */
export type StartPortkeyContext = (request: PortkeyNestRequest, response: ServerResponse, next: () => void) => void;

/**
 * Checks the module options and compiles them into the one function both ways of mounting the
 * module use (the Nest middleware on Express, the adapter's request hook on Fastify).
 *
 * @param options - the module options.
 * @returns the function that starts a request's context.
 * @throws {@link PortkeyContextError} `INVALID_OPTION` / `INVALID_HEADER_VALUE` for a bad static option.
 */
export function compilePortkeyModuleOptions(options: PortkeyModuleOptions = {}): StartPortkeyContext {
  const { createContext, responseHeader } = compileRequestOptions<PortkeyNestRequest>(options);
  return function startPortkeyContext(request, response, next) {
    const context = createContext(request, response);
    if (responseHeader) response.setHeader(responseHeader, context.traceId);
    portkeyContextStorage.run(context, next);
  };
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
  readonly #start: StartPortkeyContext;

  /**
   * @param options - the module options (explicit token: works without decorator metadata).
   * @throws {@link PortkeyContextError} for a bad static option, when Nest creates the middleware at start-up.
   */
  constructor(@Inject(PORTKEY_MODULE_OPTIONS) options: PortkeyModuleOptions) {
    this.#start = compilePortkeyModuleOptions(options);
  }

  /**
   * Runs `next` inside a new context for `req`.
   *
   * @param req - Express's request.
   * @param res - Express's response (a Node `ServerResponse`).
   * @param next - the rest of the request.
   */
  use(req: PortkeyMiddlewareRequest, res: ServerResponse, next: (error?: unknown) => void): void {
    this.#start(req, res, next);
  }
}
