import type { IncomingMessage } from 'node:http';
import { findRequestContext } from '../../src/index.js';

const INSTALLED = Symbol.for('portkey-context.nestjs.fastify-hook');

/** The little of a Fastify request the hook uses. */
interface FastifyRequestLike {
  raw: IncomingMessage;
}

/** The little of a Fastify instance the hook needs (no run-time or type dependency on fastify). */
export interface FastifyInstanceLike {
  addHook(name: 'preValidation', hook: (request: any, reply: unknown, done: (error?: Error) => void) => void): unknown;
}

/**
 * Fastify `preValidation` hook for `@nestjs/platform-fastify`. Nest middleware sees Node's raw
 * request, but guards set `user` on Fastify's request: after the body is parsed and before guards
 * and the handler run, this hook points the request's context at Fastify's request, from which the
 * user is then read lazily (and which `metadata(req, defaults)` receives).
 *
 * Fastify (4 and later) runs the hooks after body parsing in the async context of the request
 * (its content-type parser uses an `AsyncResource`), so the context is still in the store here.
 * The request's context is found through any `withPortkeyOverrides` scope a user middleware opened
 * before guards run.
 */
export function portkeyFastifyPreValidation(request: FastifyRequestLike, _reply: unknown, done: (error?: Error) => void): void {
  const context = findRequestContext<any>(request.raw);
  if (context !== undefined) context.request = request;
  done();
}

/**
 * Adds {@link portkeyFastifyPreValidation} to a Fastify instance, once.
 *
 * @param instance - the root Fastify instance (`httpAdapter.getInstance()`), before it is ready.
 */
export function installPortkeyFastifyHook(instance: FastifyInstanceLike): void {
  const marked = instance as FastifyInstanceLike & { [INSTALLED]?: true };
  if (marked[INSTALLED]) return;
  marked[INSTALLED] = true;
  instance.addHook('preValidation', portkeyFastifyPreValidation);
}
