/**
 * Warnings for mistakes that do not stop the app but silently lose something (a call sent with no
 * trace or user, a context mounted twice): emitted once per process and code, as Node process
 * warnings (`process.on('warning')`, `--no-warnings`, `NODE_NO_WARNINGS=1`), type
 * `PortkeyContextWarning`. Both builds of the package share the record of what was emitted.
 */
export type PortkeyWarningCode = 'PORTKEY_NO_CONTEXT' | 'PORTKEY_DUPLICATE_MIDDLEWARE' | 'PORTKEY_INVALID_JOB_CONTEXT';

const EMITTED = Symbol.for('portkey-context.warnings-emitted');
const registry = globalThis as typeof globalThis & { [EMITTED]?: Set<string> };
if (!registry[EMITTED]) registry[EMITTED] = new Set();
const emitted: Set<string> = registry[EMITTED];

/** Emits `message` as a process warning, the first time `code` is met in this process. */
export function warnOnce(code: PortkeyWarningCode, message: string): void {
  if (emitted.has(code)) return;
  emitted.add(code);
  process.emitWarning(message, { type: 'PortkeyContextWarning', code });
}

/** What an app does about a call made outside any context (`ChatPortkey`, `portkeyHeaders()`). */
export const NO_CONTEXT_HELP =
  'Mount app.use(portkeyMiddleware()) ("portkey-context/express") before your routes, ' +
  'import PortkeyModule.forRoot() ("portkey-context/nestjs") in your AppModule, ' +
  'or wrap background work in runWithPortkeyContext({ traceId }, fn).';
