import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createRequestContextFactory,
  type PortkeyContext,
  PortkeyContextError,
  type PortkeyRequestOptions,
  portkeyContextStorage,
} from '../../src/index.js';

/** The request as the middleware sees it: Node's request, with the `user` auth sets later. */
export type PortkeyExpressRequest = IncomingMessage & { user?: any; portkey?: PortkeyContext };

/** Options of {@link portkeyMiddleware}. */
export interface PortkeyMiddlewareOptions<Req extends PortkeyExpressRequest = PortkeyExpressRequest>
  extends PortkeyRequestOptions<Req> {
  /** Response header that returns the trace ID to the client; `false` sends none. @default 'x-portkey-trace-id' */
  responseHeader?: string | false;
}

declare global {
  // biome-ignore lint/style/noNamespace: Express's request type is extended through this global namespace
  namespace Express {
    interface Request {
      /** The Portkey context of this request, set by `portkeyMiddleware()`. */
      portkey: PortkeyContext;
    }
  }
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
  const createContext = createRequestContextFactory<Req>(options);
  const responseHeader = options.responseHeader === undefined ? 'x-portkey-trace-id' : options.responseHeader;
  if (responseHeader !== false && !/^[A-Za-z0-9-]+$/.test(responseHeader)) {
    throw new PortkeyContextError('INVALID_OPTION', `responseHeader must be a header name or false, got ${JSON.stringify(responseHeader)}.`);
  }
  return function portkeyContextMiddleware(req, res, next) {
    const context = createContext(req as Req);
    (req as PortkeyExpressRequest).portkey = context;
    if (responseHeader) res.setHeader(responseHeader, context.traceId);
    portkeyContextStorage.run(context, next);
  };
}
