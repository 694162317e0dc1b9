import { type PortkeyContext, portkeyContextStorage } from '../../src/context.js';
import { PortkeyContextError } from '../../src/errors.js';

/**
 * The Portkey context in force, for the Nest service and decorators.
 *
 * @returns the context of the request (or `withPortkeyOverrides` / `runWithPortkeyContext` scope) in force.
 * @throws {@link PortkeyContextError} `NO_CONTEXT` outside a context, saying what to mount.
 */
export function requirePortkeyContext(): PortkeyContext {
  const context = portkeyContextStorage.getStore();
  if (context === undefined) {
    throw new PortkeyContextError(
      'NO_CONTEXT',
      'No Portkey context is active. Import PortkeyModule.forRoot() (or forRootAsync()) from "portkey-context/nestjs" once, ' +
        'in your AppModule: it mounts the context for every route. Code that runs outside an HTTP request ' +
        '(onModuleInit, cron jobs, queue consumers) must start one with runWithPortkeyContext({ traceId }, fn) from "portkey-context".',
    );
  }
  return context;
}
