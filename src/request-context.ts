import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { BRAND, hasBrand, setBrand } from './brand.js';
import { CONTEXT_CALLS, type CallPolicy, ContextCalls, compileCallPolicy, type PortkeyCallPolicyOptions } from './call-policy.js';
import { PARENT_CONTEXT, type PortkeyContext, PortkeyContextBase, portkeyContextStorage } from './context.js';
import { disconnectSignal, type ResponseLike } from './disconnect.js';
import { invalidOption, messageOf, PortkeyContextError } from './errors.js';
import { assertValidPortkeyOptions, isPlainObject, refuseBaseURL } from './headers.js';
import { METADATA_HEADER_MAX_LENGTH, mergeMetadata, normalizeMetadata, userMetadata } from './metadata.js';
import { type PortkeyMetadataRecord, type PortkeyOptions, pickPortkeyOptions } from './options.js';
import { ownOption } from './own.js';
import { compileRequestEnd, type RequestEndOptions } from './request-end.js';
import { createOrderedTraceIdReader, createTraceIdReader, type TraceIdOptions, traceIdResponseHeader } from './trace-id.js';
import { withFields } from './copy.js';
import { requestHeaders } from './request-headers.js';

/** The least a request must have: Node's headers, and the `user` auth may set on it later. */
export interface RequestLike {
  headers: IncomingHttpHeaders;
  user?: unknown;
}

/**
 * Per-request metadata: a static object (merged under the user's metadata), or a function of the
 * request that replaces the default resolver — spread `defaults` to extend it instead. Called each
 * time headers are built, so a user set by auth after the context began is seen.
 */
export type RequestMetadataOption<Req> =
  | PortkeyMetadataRecord
  | ((request: Req, defaults: PortkeyMetadataRecord) => PortkeyMetadataRecord | undefined);

/** Options of a request-scoped context: the app's Portkey defaults plus trace-ID and metadata rules. */
export interface PortkeyRequestOptions<Req extends RequestLike = RequestLike>
  extends Omit<PortkeyOptions, 'traceId' | 'metadata'>,
    TraceIdOptions,
    PortkeyCallPolicyOptions<Req> {
  /**
   * Metadata for every gateway call made while serving a request. Default: `_user` and
   * `_organisation` from `request.user`, `_environment` from `NODE_ENV`.
   */
  metadata?: RequestMetadataOption<Req>;
  /**
   * Metadata keys taken from an incoming `x-portkey-metadata` header — sent by another of your
   * services with `portkeyPropagationHeaders({ metadata: [...] })` — e.g. `['_user']`. Off by
   * default: a client must not be able to pick `_user`. Only behind your own network edge (a
   * gateway or mesh that strips the header from outside requests). Local values win: the user
   * your auth sets, then the `metadata` option, over the incoming ones.
   * @default []
   */
  trustIncomingMetadata?: readonly string[];
  /**
   * Abort the request's gateway calls when the client disconnects before the response is complete
   * (`ChatPortkey` calls, calls still in its queue, and anything given the context's `signal`).
   * @default true
   */
  abortOnDisconnect?: boolean;
}

/** What every request context of one app shares: its static options, metadata rules and call policy. */
export interface RequestContextApp<Req extends RequestLike> {
  readonly options: PortkeyOptions;
  readonly resolveMetadata: (request: Req) => PortkeyMetadataRecord;
  readonly policy: CallPolicy | undefined;
}

/** A request's Portkey context: trace ID fixed at the start, metadata read from the request when asked. */
export class PortkeyRequestContext<Req extends RequestLike = RequestLike> extends PortkeyContextBase {
  // `declare`: assigned once in the constructor, not defined empty first (one is made per request).
  declare readonly traceId: string;
  /**
   * The request metadata is read from. Adapters may point it at the framework's request object
   * (Fastify's, under NestJS) once they have it.
   */
  declare request: Req;
  readonly #app: RequestContextApp<Req>;
  /** The request's calls (ledger, tenant): made on the first call, or when asked. */
  #calls: ContextCalls | undefined;
  /**
   * The response whose early close aborts the request's calls, until the signal is asked for; then
   * the signal. One field for both: a field more per request measurably slowed `bench/`.
   */
  #abort: ResponseLike | AbortSignal | undefined;

  constructor(traceId: string, request: Req, app: RequestContextApp<Req>, response?: ResponseLike) {
    super();
    this.traceId = traceId;
    this.request = request;
    this.#app = app;
    this.#abort = response;
  }

  get [CONTEXT_CALLS](): ContextCalls {
    this.#calls ??= new ContextCalls(this.#app.policy, () => this.request);
    return this.#calls;
  }

  /** The app's options, with the request's tenant's over them once it is resolved. */
  get options(): PortkeyOptions {
    return this.#calls === undefined ? this.#app.options : this.#calls.options(this.#app.options);
  }

  get metadata(): PortkeyMetadataRecord {
    const metadata = this.#app.resolveMetadata(this.request);
    const tenant = this.#calls?.metadata;
    return tenant === undefined ? metadata : mergeMetadata(tenant, metadata);
  }

  /** Fires when the client disconnects before the response is complete; see {@link PortkeyContext.signal}. */
  get signal(): AbortSignal | undefined {
    const abort = this.#abort;
    if (abort === undefined || abort instanceof AbortSignal) return abort;
    const signal = disconnectSignal(abort, this.traceId);
    this.#abort = signal;
    return signal;
  }
}
setBrand(PortkeyRequestContext.prototype, BRAND.requestContext);

/** `request.user`, or `undefined` when reading it throws (a getter of someone else's auth). */
function readUser(request: RequestLike): unknown {
  try {
    return request.user;
  } catch {
    return undefined;
  }
}

/** The allow-listed keys of a request's `x-portkey-metadata` header (another service's), normalized. */
function incomingMetadata(headers: IncomingHttpHeaders, keys: readonly string[]): Record<string, string> | undefined {
  const raw = headers['x-portkey-metadata'];
  if (typeof raw !== 'string' || raw.length > METADATA_HEADER_MAX_LENGTH) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!isPlainObject(parsed)) return undefined;
  const picked: Record<string, unknown> = {};
  for (const key of keys) if (Object.hasOwn(parsed, key)) picked[key] = parsed[key];
  const metadata = normalizeMetadata(picked);
  return Object.keys(metadata).length > 0 ? metadata : undefined;
}

function metadataResolver<Req extends RequestLike>(
  option: RequestMetadataOption<Req> | undefined,
  trusted: readonly string[] | undefined,
): (request: Req) => PortkeyMetadataRecord {
  const environment = process.env.NODE_ENV;
  const base: PortkeyMetadataRecord = environment ? { _environment: environment } : {};
  if (trusted?.length) {
    // Another service's values under this service's own: environment < incoming < the rest.
    const local = metadataResolver(option, undefined);
    return (request) => {
      const incoming = incomingMetadata(requestHeaders(request), trusted);
      return incoming ? Object.assign({}, base, incoming, local(request)) : local(request);
    };
  }
  if (typeof option !== 'function') {
    const fixed = mergeMetadata(base, option);
    return (request) => {
      const user = readUser(request);
      // Object.assign, not a spread: see copy.ts (this runs each time headers are built).
      return user === undefined ? fixed : withFields(fixed, userMetadata(user));
    };
  }
  return (request) => {
    const defaults = withFields(base, userMetadata(readUser(request)));
    let result: unknown;
    try {
      result = option(request, defaults);
    } catch (cause) {
      throw new PortkeyContextError(
        'METADATA_RESOLVER_FAILED',
        `The metadata(request) option threw: ${messageOf(cause)}. Fix the resolver; it must return an object.`,
        { cause },
      );
    }
    if (result === undefined || result === null) return defaults;
    if (typeof (result as { then?: unknown }).then === 'function') {
      (result as Promise<unknown>).then(undefined, () => undefined);
      throw new PortkeyContextError(
        'METADATA_RESOLVER_FAILED',
        'The metadata(request) option returned a Promise; it must return the metadata object synchronously (it runs each time headers are built). Resolve async data in a middleware and put it on the request.',
      );
    }
    if (typeof result !== 'object') throw invalidOption('metadata', 'a function returning an object', result);
    return result as PortkeyMetadataRecord;
  };
}

/** Whether `fn` is an `async` function (a hostile Proxy of a function counts as one: it is refused either way). */
function isAsyncFunction(fn: unknown): boolean {
  try {
    return Object.prototype.toString.call(fn) === '[object AsyncFunction]';
  } catch {
    return true;
  }
}

/** The request options as given, own properties only, with every type checked. */
function checkedRequestOptions<Req extends RequestLike>(options: PortkeyRequestOptions<Req>): PortkeyRequestOptions<Req> {
  if (!isPlainObject(options)) throw invalidOption('options', 'an object of options', options);
  const own: PortkeyRequestOptions<Req> = Object.assign(Object.create(null), options);
  refuseBaseURL(own, 'the middleware or module (a request)');
  const { metadata, abortOnDisconnect } = own;
  if (metadata !== undefined) {
    if (typeof metadata === 'function') {
      if (isAsyncFunction(metadata)) {
        throw new PortkeyContextError(
          'INVALID_OPTION',
          'The metadata(request, defaults) option must be a synchronous function (it runs each time headers are built); it is async. Resolve async data in a middleware and put it on the request.',
        );
      }
    } else if (!isPlainObject(metadata)) {
      throw invalidOption('metadata', 'an object or a function (request, defaults) => object', metadata);
    }
  }
  if (abortOnDisconnect !== undefined && typeof abortOnDisconnect !== 'boolean') throw invalidOption('abortOnDisconnect', 'a boolean', abortOnDisconnect);
  const trusted = own.trustIncomingMetadata;
  if (trusted !== undefined && (!Array.isArray(trusted) || !trusted.every((key) => typeof key === 'string' && key !== ''))) {
    throw invalidOption('trustIncomingMetadata', 'an array of metadata keys', trusted);
  }
  return own;
}

/**
 * Builds the per-request context factory the framework integrations share. Static options are
 * checked here, once, so a bad value fails at start-up. Given the response, a context's `signal`
 * fires when the client disconnects before the response is complete (unless `abortOnDisconnect: false`).
 *
 * @throws {@link PortkeyContextError} `INVALID_HEADER_VALUE` / `INVALID_OPTION` for a bad static option.
 */
export function createRequestContextFactory<Req extends RequestLike>(
  given: PortkeyRequestOptions<Req> = {},
): (request: Req, response?: ResponseLike) => PortkeyRequestContext<Req> {
  const options = checkedRequestOptions(given);
  const staticOptions = pickPortkeyOptions({ ...options, traceId: undefined, metadata: undefined });
  assertValidPortkeyOptions(staticOptions);
  if (options.metadata !== undefined && typeof options.metadata !== 'function') {
    assertValidPortkeyOptions({ metadata: options.metadata });
  }
  const app: RequestContextApp<Req> = {
    options: staticOptions,
    resolveMetadata: metadataResolver(options.metadata, options.trustIncomingMetadata),
    policy: compileCallPolicy(options),
  };
  const ordered = createOrderedTraceIdReader(options);
  if (ordered) {
    return options.abortOnDisconnect === false
      ? (request) => new PortkeyRequestContext(ordered(request), request, app)
      : (request, response) => new PortkeyRequestContext(ordered(request), request, app, response);
  }
  const readTraceId = createTraceIdReader(options);
  if (options.abortOnDisconnect === false) {
    return (request) => new PortkeyRequestContext(readTraceId(requestHeaders(request)), request, app);
  }
  return (request, response) => new PortkeyRequestContext(readTraceId(requestHeaders(request)), request, app, response);
}

/**
 * Options of a request-context entry point (the Express middleware, the NestJS module):
 * {@link PortkeyRequestOptions}, the end-of-request hooks and the response header.
 */
export interface PortkeyRequestEntryOptions<Req extends RequestLike = RequestLike> extends PortkeyRequestOptions<Req>, RequestEndOptions<Req> {
  /** Response header that returns the trace ID to the client; `false` sends none. @default 'x-portkey-trace-id' */
  responseHeader?: string | false;
}

/**
 * Checks an entry point's options once, at start-up, and compiles them: the per-request context
 * factory and the response header to set (`false` for none). The Express middleware and the
 * NestJS module share it.
 *
 * @throws {@link PortkeyContextError} `INVALID_OPTION` / `INVALID_HEADER_VALUE` for a bad option.
 */
export function compileRequestOptions<Req extends RequestLike>(
  options: PortkeyRequestEntryOptions<Req> = {},
): { createContext: (request: Req, response?: ResponseLike) => PortkeyRequestContext<Req>; responseHeader: string | false } {
  const create = createRequestContextFactory<Req>(options);
  const atEnd = compileRequestEnd<Req>(options);
  const createContext: typeof create =
    atEnd === undefined
      ? create
      : (request, response) => {
          const context = create(request, response);
          if (response !== undefined) atEnd(context, request, response as ServerResponse);
          return context;
        };
  return { createContext, responseHeader: traceIdResponseHeader(ownOption(options, 'responseHeader')) };
}

/**
 * The request context of `request` among the contexts in force now (nested override scopes
 * included), or `undefined` when the code runs outside that request's context.
 */
export function findRequestContext<Req extends RequestLike>(request: Req): PortkeyRequestContext<Req> | undefined {
  let context: PortkeyContext | undefined = portkeyContextStorage.getStore();
  while (context) {
    if (hasBrand(context, BRAND.requestContext) && (context as PortkeyRequestContext).request === request) return context as PortkeyRequestContext<Req>;
    context = (context as { [PARENT_CONTEXT]?: PortkeyContext })[PARENT_CONTEXT];
  }
  return undefined;
}
