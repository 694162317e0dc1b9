import { IncomingMessage, type IncomingHttpHeaders } from 'node:http';

/** Node's `headers` getter (it builds the object from `rawHeaders` on first read). */
const nodeHeadersGetter = Object.getOwnPropertyDescriptor(IncomingMessage.prototype, 'headers')?.get as
  | ((this: IncomingMessage) => IncomingHttpHeaders)
  | undefined;

/**
 * A request's headers, as `request.headers` reads them. On Node's own requests it calls Node's
 * getter directly: under Express 5 every request object gets a hidden class of its own, so the
 * property read `request.headers` missed V8's inline caches on every request (a lookup in V8's
 * runtime), the one miss the middleware added (`node --log-ic`: 113.1 misses a request, 112.1 with
 * the getter called, 112.2 for a bare `als.run`). A request that is not Node's (Fastify's, HTTP/2's,
 * a test double), or that has `headers` of its own, is read as usual.
 */
export function requestHeaders(request: { headers: IncomingHttpHeaders }): IncomingHttpHeaders {
  return nodeHeadersGetter !== undefined && request instanceof IncomingMessage && !Object.hasOwn(request, 'headers')
    ? nodeHeadersGetter.call(request)
    : request.headers;
}
