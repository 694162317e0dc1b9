import type { ServerResponse } from 'node:http';
import type { PortkeyNestRequest } from './options.js';
import type { compilePortkeyModuleOptions, StartPortkeyContext } from './portkey.middleware.js';

const INSTALLED = Symbol.for('portkey-context.nestjs.fastify-hook');

type Done = (error?: Error) => void;

/** The little of a Fastify reply the hook uses: Node's response under it. */
interface FastifyReplyLike {
  raw: ServerResponse;
}

/** A Fastify `onRequest` hook with a callback. */
type FastifyRequestHook = (request: PortkeyNestRequest, reply: FastifyReplyLike, done: Done) => void;

/** A hook given to the adapter's `setOnRequestHook()`: it calls `done`, or returns a promise. */
type AdapterRequestHook = (request: PortkeyNestRequest, reply: FastifyReplyLike, done: Done) => unknown;

/** The little of the root Fastify instance the hooks need (no run-time or type dependency on fastify). */
interface FastifyInstanceLike {
  addHook(name: 'onRequest', hook: FastifyRequestHook): unknown;
}

/** The little of `@nestjs/platform-fastify`'s `FastifyAdapter` the hooks need. */
export interface FastifyAdapterLike {
  getInstance<T = unknown>(): T;
  /**
   * The adapter's request hook: the first `onRequest` hook of the root instance (the adapter adds
   * it in its constructor), so of every route and plugin context, before `@fastify/middie`.
   * Absent from old adapters.
   */
  setOnRequestHook?(hook: AdapterRequestHook): void;
}

/**
 * Starts the Portkey context of every request of a `@nestjs/platform-fastify` app in the adapter's
 * request hook, with no Nest middleware (so `@fastify/middie` has nothing to run for it) and no
 * later hook re-pointing the context.
 *
 * The context is made from Fastify's request (where guards, passport's `AuthGuard` among them, set
 * `user`, read when metadata is built; `metadata(req, defaults)` receives it) and Node's response
 * under the reply (`reply.raw`: the disconnect signal listens to it, and a header set on it is
 * kept on every response Fastify sends — errors and 404s too — and on responses written to
 * `reply.raw` directly, such as SSE). The hook calls `done` inside `AsyncLocalStorage.run`, so
 * the rest of the request runs in the context: the later `onRequest` hooks, Nest middleware and
 * `app.use()` middleware (middie's hook), body parsing (Fastify's content-type parser resumes in an
 * `AsyncResource` made then), guards, interceptors, the handler and exception filters.
 *
 * Why the adapter's hook, not `instance.addHook('onRequest')`: Fastify runs `onRequest` hooks in the
 * order they were added, and `FastifyAdapter.init()` registers middie (and its hook) before any
 * module is configured, so a hook added now would run after Nest middleware.
 *
 * The adapter has one such hook. A hook the app gave `setOnRequestHook()` before (read from the
 * adapter) or gives it later (the adapter's `setOnRequestHook` is wrapped) is kept: it runs next,
 * inside the context, as the adapter runs it (`done`, or a returned promise). On an adapter without
 * `setOnRequestHook`, an `onRequest` hook of the root instance starts the context instead, after
 * Nest middleware.
 *
 * Idempotent per Fastify instance.
 *
 * @param adapter - the app's `FastifyAdapter`, before the app is ready.
 * @param start - the compiled module options ({@link compilePortkeyModuleOptions}).
 */
export function installPortkeyFastifyHooks(adapter: FastifyAdapterLike, start: StartPortkeyContext): void {
  const instance = adapter.getInstance<FastifyInstanceLike & { [INSTALLED]?: true }>();
  if (instance[INSTALLED]) return;
  instance[INSTALLED] = true;

  const startContext = (request: PortkeyNestRequest, reply: FastifyReplyLike, next: Done): void => start(request, reply.raw, next);

  const setOnRequestHook = adapter.setOnRequestHook;
  if (typeof setOnRequestHook !== 'function') {
    instance.addHook('onRequest', startContext);
    return;
  }
  /** The adapter's hook: the context, then the app's own hook (if any) inside it. */
  const withContext = (appHook: AdapterRequestHook | undefined): AdapterRequestHook => {
    if (typeof appHook !== 'function') return startContext;
    return (request, reply, done) => startContext(request, reply, () => runAppHook(adapter, appHook, request, reply, done));
  };
  // `onRequestHook` is the adapter's TypeScript-private field behind `setOnRequestHook()`.
  setOnRequestHook.call(adapter, withContext((adapter as { onRequestHook?: AdapterRequestHook }).onRequestHook));
  adapter.setOnRequestHook = function setOnRequestHookAfterPortkey(this: FastifyAdapterLike, hook: AdapterRequestHook): void {
    setOnRequestHook.call(this, withContext(hook));
  };
}

/**
 * Runs a hook the app gave the adapter, as the adapter would: it calls `done`, or returns a promise
 * whose settling calls it. The promise is observed here, inside the context (a reaction registered
 * after the context's `run` returned would resume outside it). `done` is the adapter's, which
 * forwards only the first call and turns a synchronous throw into `done(error)`.
 */
function runAppHook(adapter: FastifyAdapterLike, hook: AdapterRequestHook, request: PortkeyNestRequest, reply: FastifyReplyLike, done: Done): void {
  const result = hook.call(adapter, request, reply, done);
  if (result && typeof (result as PromiseLike<unknown>).then === 'function') {
    (result as PromiseLike<unknown>).then(
      () => done(),
      (error: unknown) => done((error || new Error("The app's onRequest hook rejected without a reason")) as Error),
    );
  }
}
