import { IncomingMessage, type ServerResponse } from 'node:http';
import { type PortkeyContext, portkeyContextStorage } from '../../src/context.js';
import { findRequestContext, type PortkeyRequestOptions } from '../../src/request-context.js';
import type { RequestEndOptions } from '../../src/request-end.js';
import { warnOnce } from '../../src/warnings.js';
import { PortkeyContextError } from '../../src/errors.js';
// Internal: shared with the NestJS module, not part of the package's public API.
import { compileRequestOptions } from '../../src/request-context.js';

/** The request as the middleware sees it: Node's request, with the `user` auth sets later. */
export type PortkeyExpressRequest = IncomingMessage & { user?: any; portkey?: PortkeyContext };

/** Options of {@link portkeyMiddleware}. */
export interface PortkeyMiddlewareOptions<Req extends PortkeyExpressRequest = PortkeyExpressRequest>
  extends PortkeyRequestOptions<Req>,
    RequestEndOptions<Req> {
  /** Response header that returns the trace ID to the client; `false` sends none. @default 'x-portkey-trace-id' */
  responseHeader?: string | false;
}

declare global {
  // Express's request type is extended through this global namespace.
  namespace Express {
    interface Request {
      /** The Portkey context of this request, set by `portkeyMiddleware()`. */
      portkey: PortkeyContext;
    }
  }
}

/**
 * Makes `req.portkey` available. An own property on every request cost ~6% of a hello-world's
 * throughput here, so on Express (whose requests share the app's `request` prototype) it is a
 * getter on that prototype, defined once, that finds the request's context in the store. On a
 * plain Node request (prototype `IncomingMessage.prototype`, which is not ours to change) it is an
 * own property. Returns the prototype the getter now lives on, or `null`.
 */
function exposePortkeyOn(req: IncomingMessage, proto: object | null, context: PortkeyContext): object | null {
  if (proto === null || proto === IncomingMessage.prototype || Object.isFrozen(proto)) {
    (req as PortkeyExpressRequest).portkey = context;
    return null;
  }
  if (Object.getOwnPropertyDescriptor(proto, 'portkey')?.get !== portkeyGetter) {
    Object.defineProperty(proto, 'portkey', { get: portkeyGetter, configurable: true, enumerable: false });
  }
  return proto;
}

/**
 * `req.portkey`: the request's context, found in the store. Read where the request's context is not
 * in force (a route mounted before the middleware, a callback that lost the async context) it
 * throws `NO_CONTEXT` saying so, rather than being `undefined` under a non-optional type.
 */
function portkeyGetter(this: IncomingMessage): PortkeyContext {
  const context = findRequestContext(this as PortkeyExpressRequest);
  if (context === undefined) {
    throw new PortkeyContextError(
      'NO_CONTEXT',
      "req.portkey was read outside this request's Portkey context: the route or middleware runs before app.use(portkeyMiddleware()) (mount it first), " +
        "or the code runs in a callback that lost the request's async context (an emitter or pool created outside the request). " +
        'tryGetPortkeyContext() from "portkey-context" tells whether a context is in force.',
    );
  }
  return context;
}

function warnDuplicate(req: IncomingMessage): void {
  warnOnce(
    'PORTKEY_DUPLICATE_MIDDLEWARE',
    `portkeyMiddleware() ran twice for one request (${req.method} ${req.url?.split('?')[0]?.slice(0, 100)}): the second starts a new context and its options win. ` +
      'Mount it once, on the app, before your routes; for options of some routes use withPortkeyOverrides() in them. (Warned once per process.)',
  );
}

/**
 * Express (4 and 5) middleware that runs the rest of the request inside a Portkey context: every
 * gateway call made while serving it carries the request's trace ID and signed-in user. Mount it
 * before your routes and before (or after) your auth: the user is read when headers are built.
 *
 * Client-sent `x-portkey-*` headers are never used, except a valid trace ID from the configured
 * trace-ID headers.
 *
 * @param options - the app's Portkey defaults (`apiKey`, `virtualKey`, `config`, …) and the
 *   trace-ID and metadata rules.
 * @returns the middleware.
 * @throws {@link PortkeyContextError} at once when a static option cannot be sent as a header.
 *
 * @example
 * ```ts
 * import { portkeyMiddleware } from 'portkey-context/express';
 * app.use(portkeyMiddleware({ virtualKey: process.env.PORTKEY_VIRTUAL_KEY }));
 * ```
 */
export function portkeyMiddleware<Req extends PortkeyExpressRequest = PortkeyExpressRequest>(
  options: PortkeyMiddlewareOptions<Req> = {},
): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  const { createContext, responseHeader } = compileRequestOptions<Req>(options);
  let exposedOn: object | null = null;
  return function portkeyContextMiddleware(req, res, next) {
    if (portkeyContextStorage.getStore() !== undefined && findRequestContext(req as Req) !== undefined) warnDuplicate(req);
    const context = createContext(req as Req, res);
    const proto = Object.getPrototypeOf(req);
    if (proto !== exposedOn) exposedOn = exposePortkeyOn(req, proto, context);
    if (responseHeader) res.setHeader(responseHeader, context.traceId);
    portkeyContextStorage.run(context, next);
  };
}
