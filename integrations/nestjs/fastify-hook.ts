import type { IncomingMessage } from 'node:http';
import { type PortkeyRequestContext, portkeyContextStorage } from '../../src/index.js';

const INSTALLED = Symbol.for('portkey-context.nestjs.fastify-hook');

/** The little of a Fastify request the hook uses. */
interface FastifyRequestLike {
  raw: IncomingMessage & { portkey?: unknown };
}

/** The little of a Fastify instance the hook needs (no run-time or type dependency on fastify). */
export interface FastifyInstanceLike {
  addHook(name: 'preValidation', hook: (request: any, reply: unknown, done: (error?: Error) => void) => void): unknown;
}

/**
 * Fastify `preValidation` hook for `@nestjs/platform-fastify`. Nest middleware sees Node's raw
 * request, but guards set `user` on Fastify's request, and Fastify parses a body after middleware in
 * another async context (the stream's), which loses `AsyncLocalStorage`. After parsing and before
 * guards and the handler, this hook points the context at Fastify's request (the user is read
 * lazily from it) and, when the context was lost, runs the rest of the request in it again.
 */
export function portkeyFastifyPreValidation(request: FastifyRequestLike, _reply: unknown, done: (error?: Error) => void): void {
  // set by PortkeyMiddleware (not instanceof: the ESM and CJS builds may both be loaded)
  const context = request.raw.portkey as PortkeyRequestContext<any> | undefined;
  if (context === undefined) {
    done();
    return;
  }
  context.request = request;
  if (portkeyContextStorage.getStore() === context) done();
  else portkeyContextStorage.run(context, done);
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
