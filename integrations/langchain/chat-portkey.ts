import { createHash } from 'node:crypto';
import type { CallbackManagerForLLMRun } from '@langchain/core/callbacks/manager';
import type { AIMessageChunk, BaseMessage, MessageContent, UsageMetadata } from '@langchain/core/messages';
import type { Serialized } from '@langchain/core/load/serializable';
import type { RunnableConfig } from '@langchain/core/runnables';
import { AIMessage } from '@langchain/core/messages';
import type { ChatGeneration, ChatGenerationChunk, ChatResult } from '@langchain/core/outputs';
import { AsyncLocalStorageProviderSingleton } from '@langchain/core/singletons';
import {
  type BaseChatOpenAIFields,
  ChatOpenAICompletions,
  type ChatOpenAICompletionsCallOptions,
  type ClientOptions,
} from '@langchain/openai';
import { isHostedGateway, noPortkeyKeyError } from '../../src/client-checks.js';
import { contextCalls, whenReadyToSend } from '../../src/call-policy.js';
import { callHeaders, callOptionsInForce } from '../../src/call-headers.js';
import { tryGetPortkeyContext, warnNoContext } from '../../src/context.js';
import { type GatewayCall, NO_PROVIDER_KEY } from '../../src/gateway-fetch.js';
import { eitherSignal } from '../../src/portkey-fetch.js';
import { describeType, messageOf, PortkeyContextError } from '../../src/errors.js';
import { assertValidPortkeyOptions, isPlainObject, refuseBaseURL } from '../../src/headers.js';
import { PORTKEY_OPTION_KEYS, type PortkeyOptions, pickPortkeyOptions, resolvePortkeyOptions } from '../../src/options.js';
import { type SECRET_PORTKEY_OPTIONS, secretValues, urlSecrets } from '../../src/secrets.js';
import { generateSpanId } from '../../src/trace-id.js';
import { NO_CONTEXT_HELP, warnOnce } from '../../src/warnings.js';
import { refuseChatOpenAIHabits } from './chat-openai-habits.js';
import { mergeMetadata } from '../../src/metadata.js';
import { type CallErrorInfo, describeCallError, emptyAnswerError, incompleteStreamError } from './errors.js';
import { createGatewayFetch, GATEWAY_CALL, gatewayResponseMetadata } from './gateway-fetch.js';
import { abortable, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_MS, retryDelay, sleep } from './retry.js';
import { messageUsage } from './message-usage.js';
import { runTraceId } from './run-trace.js';
import { withFields } from '../../src/copy.js';

/** Call options of {@link ChatPortkey}: `ChatOpenAI`'s, plus Portkey options for this call only. */
export interface ChatPortkeyCallOptions extends ChatOpenAICompletionsCallOptions {
  /**
   * Portkey options for this call only (`traceId`, `metadata`, `cacheForceRefresh`,
   * `cacheNamespace`, `config`, …). They win over everything else and never leak into the next call;
   * `metadata` is merged over the request's.
   */
  portkey?: PortkeyOptions;
}

/**
 * Constructor fields of {@link ChatPortkey}: the `ChatOpenAI` fields (`model`, `temperature`,
 * `maxTokens`, `streaming`, `maxRetries`, `timeout`, `maxConcurrency`, …) and every
 * {@link PortkeyOptions} field. `apiKey` is the **Portkey** API key; no OpenAI key is needed or sent
 * unless you set provider auth (`authorization`, a virtual key or a config).
 */
export interface ChatPortkeyInput
  extends Omit<BaseChatOpenAIFields, 'apiKey' | 'openAIApiKey' | 'configuration' | 'metadata'>,
    PortkeyOptions {
  /** `openai` client options (a custom `fetch`, `defaultHeaders`, …); `apiKey` and `baseURL` come from the Portkey options. */
  configuration?: Omit<ClientOptions, 'apiKey' | 'baseURL'>;
  /**
   * A call made outside any Portkey context (no middleware, module or `runWithPortkeyContext`)
   * throws `NO_CONTEXT` instead of being sent without a user, traced per LangChain run (see
   * `traceRuns`), with a one-time warning.
   * @default false
   */
  strict?: boolean;
  /**
   * Outside any Portkey context (a script, a cron job), the calls of one top-level LangChain run —
   * an agent run, a chain run, a bare `invoke` — share one trace ID: the root run's ID when
   * LangChain knows it, else one made for the run. `false`: such calls carry no trace ID (Portkey
   * makes one trace per call). A context, a `traceId` on the model or the call's `portkey.traceId`
   * always wins.
   * @default true
   */
  traceRuns?: boolean;
}

/**
 * Carries a call's run config (which LangChain keeps apart from the call options) into its call
 * options: its `runName` names the span, and outside a context it tells which run the call belongs to.
 */
const RUN_CONFIG = Symbol('portkey-context.run-config');

/** Carries one model call's prepared headers from the model method down to the SDK request. */
const PORTKEY_CALL = Symbol('portkey-context.call');

interface PreparedCall {
  /** The call's Portkey options, every layer merged: what its secrets are read from if it fails. */
  options: PortkeyOptions;
  traceId: string | undefined;
  gateway: GatewayCall;
  /** The call's own `signal` merged with the request context's (fires when the client leaves). */
  signal: AbortSignal | undefined;
}


/** Portkey secret options → the secret id they serialize as (and `load()` reads back). */
// Typed by SECRET_PORTKEY_OPTIONS: a secret option added there cannot be missing here.
const SECRET_IDS: Record<(typeof SECRET_PORTKEY_OPTIONS)[number], string> = {
  apiKey: 'PORTKEY_API_KEY',
  virtualKey: 'PORTKEY_VIRTUAL_KEY',
  authorization: 'PORTKEY_PROVIDER_AUTHORIZATION',
  config: 'PORTKEY_CONFIG',
  awsAccessKeyId: 'AWS_ACCESS_KEY_ID',
  awsSecretAccessKey: 'AWS_SECRET_ACCESS_KEY',
  awsSessionToken: 'AWS_SESSION_TOKEN',
};

/** Per-call Portkey options that only label the call (they never change the answer, so never the cache key). */
const LABEL_OPTIONS = ['traceId', 'metadata', 'spanId', 'parentSpanId', 'spanName'] as const;


function withCall<T extends object>(options: T, call: PreparedCall): T {
  const sdkOptions = (options as { options?: object }).options;
  return withFields(options, { signal: call.signal, [PORTKEY_CALL]: call, options: withFields(sdkOptions, { [PORTKEY_CALL]: call }) });
}

/**
 * The run a model call hangs under when LangChain has no callback run tree (no handlers anywhere
 * above it): the LangGraph task (agent step) executing the call, if any.
 */
function enclosingGraphTask(): string | undefined {
  const config: any = AsyncLocalStorageProviderSingleton.getRunnableConfig();
  const taskId = config?.configurable?.__pregel_task_id;
  if (typeof taskId === 'string' && taskId) return taskId;
  const namespace = config?.metadata?.checkpoint_ns;
  return typeof namespace === 'string' ? /:([0-9a-f-]{36})$/.exec(namespace)?.[1] : undefined;
}

const secret = (id: string) => ({ lc: 1, type: 'secret', id: [id] });

/** The one-time warning for a call outside any context that is traced per LangChain run. */
const NO_CONTEXT_RUN_TRACE =
  'A ChatPortkey model was called outside any Portkey context, so the call carries no user; its trace ID is its top-level ' +
  `LangChain run's (new ChatPortkey({ traceRuns: false }) sends none). ${NO_CONTEXT_HELP} (Warned once per process.)`;

/**
 * `configuration.defaultHeaders` in any form the `openai` client takes (a record, `Headers`, entry
 * pairs) as a record of strings; a `null` value (the client's "remove this header") is left out.
 */
function headerRecord(headers: unknown): Record<string, string> | undefined {
  if (headers === undefined || headers === null) return undefined;
  const out: Record<string, string> = {};
  if (isPlainObject(headers)) {
    for (const [name, value] of Object.entries(headers)) if (value !== null && value !== undefined) out[name] = String(value);
  } else {
    new Headers(headers as ConstructorParameters<typeof Headers>[0]).forEach((value, name) => {
      out[name] = value;
    });
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The constructor fields as they serialize: every option given, each Portkey secret as a secret id
 * (the key from `PORTKEY_API_KEY` included), a custom host carrying credentials as the secret
 * `PORTKEY_CUSTOM_HOST`, the resolved `baseURL`; `configuration` and `callbacks` left out
 * (functions, and headers that may be secret).
 */
function serializableFields(fields: ChatPortkeyInput, portkey: PortkeyOptions, baseURL: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || key === 'configuration' || key === 'callbacks' || typeof value === 'function') continue;
    out[key] = key in SECRET_IDS ? secret(SECRET_IDS[key as keyof typeof SECRET_IDS]) : value;
  }
  if (out.apiKey === undefined && portkey.apiKey !== undefined) out.apiKey = secret('PORTKEY_API_KEY');
  if (urlSecrets(portkey.customHost).length > 0) out.customHost = secret('PORTKEY_CUSTOM_HOST');
  out.baseURL = baseURL;
  return out;
}

/** A cached generation without `response_metadata.portkey` (a copy: the cache keeps its own). */
function withoutGatewayMetadata(generation: ChatGeneration): ChatGeneration {
  const message = generation?.message;
  if (!message?.response_metadata || !('portkey' in message.response_metadata)) return generation;
  const { portkey: _portkey, ...responseMetadata } = message.response_metadata;
  const fields = Object.fromEntries(Object.entries(message).filter(([key]) => !key.startsWith('lc_')));
  return { ...generation, message: new AIMessage({ ...fields, response_metadata: responseMetadata } as never) };
}

/** A stream that starts once `started` gives it (the call waited for its tenant). */
function laterStream<T>(started: Promise<AsyncGenerator<T>>): AsyncGenerator<T> {
  const stream = {
    next: () => started.then((inner) => inner.next()),
    return: (value?: unknown) => started.then((inner) => inner.return(value as never)),
    throw: (error?: unknown) => started.then((inner) => inner.throw(error)),
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream as unknown as AsyncGenerator<T>;
}

function textOf(content: MessageContent): string {
  if (typeof content === 'string') return content;
  return content.map((part: any) => (typeof part === 'string' ? part : typeof part?.text === 'string' ? part.text : '')).join('');
}

/**
 * A drop-in `ChatOpenAI` replacement that talks to the Portkey gateway and sends, on every call, the
 * Portkey context of the request being served: its trace ID, its user metadata, and a span for the
 * call — whatever LangChain feature made the call (invoke, stream, batch, tools, structured output,
 * agents). Keep one instance for the whole app.
 *
 * Headers are fixed when the model method is called, before LangChain's concurrency queue, so
 * `maxConcurrency` never lends one request's trace to another. Precedence, lowest first:
 * the model's options < the request context < a `withPortkeyOverrides` scope < the call's `portkey` option.
 *
 * ## Setup
 * ```sh
 * npm install portkey-context @langchain/openai @langchain/core
 * export PORTKEY_API_KEY=…
 * ```
 *
 * ## Instantiate
 * ```ts
 * import { ChatPortkey } from 'portkey-context/langchain';
 * const model = new ChatPortkey({ model: 'gpt-4o-mini', virtualKey: process.env.PORTKEY_VIRTUAL_KEY });
 * ```
 *
 * ## Invoke
 * ```ts
 * const reply = await model.invoke('Hello!');                       // carries the request's trace ID and user
 * reply.response_metadata.portkey;                                   // { traceId, provider, retryAttemptCount, cacheStatus, … }
 * await model.invoke('Again', { portkey: { cacheForceRefresh: true, metadata: { feature: 'retry' } } });
 * ```
 *
 * ## Stream
 * ```ts
 * for await (const chunk of await model.stream('Tell me a story')) process.stdout.write(chunk.text);
 * ```
 */
export class ChatPortkey<CallOptions extends ChatPortkeyCallOptions = ChatPortkeyCallOptions> extends ChatOpenAICompletions<CallOptions> {
  static override lc_name(): string {
    return 'ChatPortkey';
  }

  override get lc_secrets(): { [key: string]: string } | undefined {
    return { ...SECRET_IDS, customHost: 'PORTKEY_CUSTOM_HOST' };
  }

  /** Serialized under its own namespace: `load(json, { importMap: { chat_models__portkey: { ChatPortkey } } })`. */
  override lc_namespace = ['langchain', 'chat_models', 'portkey'];

  override get lc_aliases(): Record<string, string> {
    return { modelName: 'model' };
  }

  /** The gateway URL this model sends to (`baseURL` option, `PORTKEY_BASE_URL`, or Portkey's hosted gateway). */
  readonly baseURL: string;
  readonly #portkey: PortkeyOptions;
  /** `configuration.defaultHeaders`: sent by the gateway fetch, kept out of the client config (and so out of logs and serialization). */
  readonly #defaultHeaders: Record<string, string> | undefined;
  readonly #maxRetries: number;
  /** Throw `NO_CONTEXT` for a call outside any context, instead of warning once. */
  readonly #strict: boolean;
  /** Outside any context, give calls their top-level LangChain run's trace ID. */
  readonly #traceRuns: boolean;
  /** Sending to Portkey's hosted gateway, which refuses every call without a Portkey API key. */
  readonly #hosted: boolean;

  /**
   * @param fields - `ChatOpenAI` fields plus Portkey options.
   * @throws {@link PortkeyContextError} when a Portkey option cannot be sent as a header, or `baseURL` is not a URL.
   */
  constructor(fields: ChatPortkeyInput = {}) {
    if (!isPlainObject(fields)) throw new PortkeyContextError('INVALID_OPTION', `new ChatPortkey(fields) takes an object of options, got ${describeType(fields)}.`);
    // Own properties only: nothing inherited from a polluted Object.prototype is read.
    const own: ChatPortkeyInput = Object.assign(Object.create(null), fields);
    if (own.spanId != null) {
      throw new PortkeyContextError('INVALID_OPTION', 'Portkey option "spanId" names one call: give it per call (model.invoke(q, { portkey: { spanId } })), not to the model.');
    }
    // A safe copy of static metadata (a throwing getter costs its entry, never construction).
    if (isPlainObject(own.metadata)) own.metadata = mergeMetadata(undefined, own.metadata);
    const resolved = resolvePortkeyOptions(pickPortkeyOptions(own));
    const { baseURL, ...portkey } = resolved;
    assertValidPortkeyOptions(portkey);
    refuseChatOpenAIHabits(own as Record<string, unknown>, resolved.apiKey);
    const strict = own.strict ?? false;
    if (typeof strict !== 'boolean') throw new PortkeyContextError('INVALID_OPTION', `ChatPortkey option "strict" must be a boolean, got ${describeType(strict)}.`);
    const traceRuns = own.traceRuns ?? true;
    if (typeof traceRuns !== 'boolean') throw new PortkeyContextError('INVALID_OPTION', `ChatPortkey option "traceRuns" must be a boolean, got ${describeType(traceRuns)}.`);
    const chatFields: Record<string, unknown> = { ...own };
    for (const key of PORTKEY_OPTION_KEYS) delete chatFields[key];
    delete chatFields.strict;
    delete chatFields.traceRuns;
    const { defaultHeaders: givenDefaultHeaders, ...configuration } = Object.assign(Object.create(null), own.configuration) as ClientOptions;
    const defaultHeaders = headerRecord(givenDefaultHeaders);
    super({
      ...chatFields,
      // LangChain run metadata (for tracers) mirrors the Portkey metadata.
      metadata: own.metadata,
      apiKey: NO_PROVIDER_KEY,
      // Retries are ChatPortkey's own (see completionWithRetry); the queue makes one attempt at a time.
      maxRetries: 0,
      timeout: own.timeout ?? DEFAULT_TIMEOUT_MS,
      // No callback manager is forced: without handlers a call's span ID is made here (see #prepareCall).
      callbacks: own.callbacks,
      configuration: {
        // The openai client logs raw response bytes it cannot parse; every failure is a thrown, redacted error instead.
        logLevel: 'off',
        ...configuration,
        baseURL,
        fetch: createGatewayFetch(configuration.fetch ?? globalThis.fetch, defaultHeaders),
      },
    } as BaseChatOpenAIFields);
    // What LangChain serializes, already without a secret in clear (see toJSON); not enumerable.
    Object.defineProperty(this, 'lc_kwargs', { value: serializableFields(own, portkey, baseURL), enumerable: false, writable: true, configurable: true });
    this.baseURL = baseURL;
    this.#portkey = portkey;
    this.#defaultHeaders = defaultHeaders;
    this.#maxRetries = own.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.#strict = strict;
    this.#traceRuns = traceRuns;
    this.#hosted = isHostedGateway(baseURL);
  }

  /**
   * The serialized model: every option given to the constructor, each Portkey secret as a secret id
   * (`PORTKEY_API_KEY`, `PORTKEY_VIRTUAL_KEY`, …; the key from the environment included), `baseURL`
   * kept. `configuration` and `callbacks` are left out (functions, and headers that may be secret).
   * `load()` with `importMap: { chat_models__portkey: { ChatPortkey } }` and a `secretsMap` builds the same model.
   */
  override toJSON(): Serialized {
    if (!this.lc_serializable) return super.toJSON();
    // Built here rather than by LangChain's toJSON (whose output for the parent class's secrets is
    // wrong for this class): current field values, secrets as secret ids. Called on every call that
    // has callbacks, so it stays cheap.
    const kwargs: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(this.lc_kwargs)) {
      kwargs[key] = key in SECRET_IDS || key === 'customHost' || key === 'baseURL' || !(key in this) ? value : (this as Record<string, any>)[key];
    }
    return { lc: 1, type: 'constructor', id: this.lc_id, kwargs };
  }

  /**
   * The `openai` client's options for one request: LangChain's `{ ...clientConfig, ...options }`,
   * made with `Object.assign` (see `copy.ts`). On Node 20 that spread made new hidden classes on
   * every call, one for each option of the call (~5) the client config lacks.
   */
  override _getClientOptions(options: Parameters<ChatOpenAICompletions['_getClientOptions']>[0]): ReturnType<ChatOpenAICompletions['_getClientOptions']> {
    if (!this.client) super._getClientOptions(undefined); // makes the client, as LangChain does
    return withFields(this.clientConfig, options ?? {});
  }

  /** LangChain keeps `runName` and the run's identity in the run config; the call options carry it here. */
  override _separateRunnableConfigFromCallOptionsCompat(options?: Partial<CallOptions>): [RunnableConfig, this['ParsedCallOptions']] {
    const [config, callOptions] = super._separateRunnableConfigFromCallOptionsCompat(options);
    (callOptions as Record<symbol, unknown>)[RUN_CONFIG] = config;
    return [config, callOptions];
  }

  /** What LangChain hands callbacks and tracers as the call's options: the per-call `portkey` options (which may hold keys) left out. */
  override _getCallOptionsForTracing(options: this['ParsedCallOptions'], invocationParams: ReturnType<this['invocationParams']>): this['ParsedCallOptions'] {
    const traced = super._getCallOptionsForTracing(options, invocationParams);
    // LangChain calls this on every call, traced or not: a copy only when there is something to leave out.
    if (!Object.hasOwn(traced, 'portkey')) return traced;
    const rest: Record<string, unknown> = Object.assign({}, traced);
    delete rest.portkey;
    return rest as this['ParsedCallOptions'];
  }

  /**
   * The LangChain cache key of a call: per-call Portkey options appear only as a hash (never a key
   * in clear), and the ones that only label the call (trace ID, metadata, spans) not at all.
   */
  override _getSerializedCacheKeyParametersForCall(options: this['ParsedCallOptions'] & { config?: unknown }): string {
    const { portkey, ...given } = options as Record<string, unknown>;
    // A tenant's replies are its own: its ID and cache namespace are part of the key (see generate()).
    const context = tryGetPortkeyContext();
    const tenant = context === undefined ? undefined : contextCalls(context)?.tenant;
    const rest = tenant === undefined ? given : { ...given, portkeyTenant: `${tenant.id}|${tenant.cacheNamespace}` };
    if (!portkey || typeof portkey !== 'object') return super._getSerializedCacheKeyParametersForCall(rest as never);
    const routing: Record<string, unknown> = { ...portkey };
    for (const key of LABEL_OPTIONS) delete routing[key];
    let digest: string | undefined;
    try {
      digest = Object.keys(routing).length ? createHash('sha256').update(JSON.stringify(routing)).digest('hex').slice(0, 32) : undefined;
    } catch {
      digest = 'unserializable'; // the call itself refuses such options with INVALID_OPTION
    }
    return super._getSerializedCacheKeyParametersForCall({ ...rest, ...(digest ? { portkey: digest } : {}) } as never);
  }

  /**
   * With LangChain's `cache`, the request's tenant is resolved and its checks made (`requireTenant`,
   * the token budget) before the cache is looked up: a reply cached for one tenant is never served
   * to another, nor to a request refused a call.
   */
  override generate(...args: Parameters<ChatOpenAICompletions<CallOptions>['generate']>): ReturnType<ChatOpenAICompletions<CallOptions>['generate']> {
    if (!this.cache) return super.generate(...args);
    return whenReadyToSend(tryGetPortkeyContext(), () => super.generate(...args));
  }

  /**
   * Replies served from LangChain's cache made no gateway call: they carry no
   * `response_metadata.portkey` (which would name the trace of the request that first made them).
   */
  override async _generateCached(params: Parameters<ChatOpenAICompletions['_generateCached']>[0]): ReturnType<ChatOpenAICompletions['_generateCached']> {
    const output = await super._generateCached(params);
    output.generations = output.generations.map((generations) => generations?.map((g) => withoutGatewayMetadata(g as ChatGeneration)));
    return output;
  }

  override _llmType(): string {
    return 'portkey';
  }

  /**
   * Token counts LangChain estimates itself (only when a stream carries no usage): an offline
   * approximation, ~4 characters a token. js-tiktoken would download its ranks over the network.
   */
  override async getNumTokens(content: MessageContent): Promise<number> {
    return Math.ceil(textOf(content).length / 4);
  }

  /** Headers of one model call, from the context in force now (the caller's, not the queue's). */
  #prepareCall(options: Partial<ChatPortkeyCallOptions> | undefined, runManager: CallbackManagerForLLMRun | undefined, answerRecorded: boolean): PreparedCall {
    const context = tryGetPortkeyContext();
    if (context === undefined) {
      if (this.#strict) throw new PortkeyContextError('NO_CONTEXT', `ChatPortkey (strict) was called outside any Portkey context. ${NO_CONTEXT_HELP}`);
      if (this.#traceRuns) warnOnce('PORTKEY_NO_CONTEXT', NO_CONTEXT_RUN_TRACE);
      else warnNoContext('A ChatPortkey model');
    }
    refuseBaseURL(options?.portkey, 'a single call');
    const inForce = callOptionsInForce(context, this.#portkey, options?.portkey);
    const merged = inForce.options;
    if (this.#hosted && merged.apiKey === undefined) {
      throw noPortkeyKeyError(this.baseURL, 'the model', "{ portkey: { apiKey } }");
    }
    // Outside any context: the trace of the call's top-level LangChain run (see run-trace.ts),
    // unless the model or the call names a trace.
    const runConfig = (options as { [RUN_CONFIG]?: RunnableConfig } | undefined)?.[RUN_CONFIG];
    if (context === undefined && this.#traceRuns && merged.traceId === undefined) merged.traceId = runTraceId(runConfig, options, runManager);
    // The call's span. The span ID is the call's own (LangChain's run ID, else a fresh one) unless
    // the call's `portkey` option names one; the parent and name LangChain knows (parent run,
    // `runName`) win over the ones set on the model or a scope, which win over the defaults.
    const perCall = options?.portkey;
    if (perCall?.spanId === undefined) merged.spanId = runManager?.runId ?? generateSpanId();
    if (perCall?.parentSpanId === undefined) {
      // Last, in a context: its root span (whose ID is the trace ID), sent explicitly so a
      // `traceparent` that OpenTelemetry's fetch instrumentation adds never names the parent.
      const parent = runManager?.parentRunId ?? merged.parentSpanId ?? enclosingGraphTask() ?? (context ? merged.traceId : undefined);
      if (parent !== undefined) merged.parentSpanId = parent;
    }
    if (perCall?.spanName === undefined) {
      const runName = runConfig?.runName;
      merged.spanName = (typeof runName === 'string' && runName !== '' ? runName : undefined) ?? merged.spanName ?? this.getName();
    }
    // Sent by the gateway fetch, which also drops the openai client's placeholder `Authorization`
    // unless provider auth is configured.
    const headers = callHeaders(inForce);
    const ledger = context === undefined ? undefined : contextCalls(context)?.ledger;
    // A model method records how the answer ended from what LangChain parsed (see #generate, #stream).
    const gateway: GatewayCall = { headers, traceId: merged.traceId, secrets: () => secretValues(merged, this.#defaultHeaders), ledger, answerRecorded };
    return { options: merged, traceId: merged.traceId, gateway, signal: eitherSignal(options?.signal, context?.signal) };
  }

  #errorInfo(call: PreparedCall, timeoutMs?: number): CallErrorInfo {
    return {
      baseURL: this.baseURL,
      traceId: call.traceId,
      secrets: call.gateway.secrets!,
      timeoutMs: timeoutMs ?? this.timeout,
      signal: call.signal,
    };
  }

  /**
   * `send(call)` with the call prepared now — or, when the context's tenant is still to be resolved
   * (or a check refuses the call), once it is: `requireTenant` and the token budget refuse a call
   * before it is prepared, so before anything is sent.
   */
  #whenReady<T>(
    options: this['ParsedCallOptions'],
    runManager: CallbackManagerForLLMRun | undefined,
    answerRecorded: boolean,
    send: (call: PreparedCall) => T,
  ): T | Promise<Awaited<T>> {
    const prepared: PreparedCall | undefined = (options as any)[PORTKEY_CALL];
    if (prepared !== undefined) return send(prepared);
    return whenReadyToSend(tryGetPortkeyContext(), () => send(this.#prepareCall(options, runManager, answerRecorded)));
  }

  override _generate(messages: BaseMessage[], options: this['ParsedCallOptions'], runManager?: CallbackManagerForLLMRun): Promise<ChatResult> {
    return this.#whenReady(options, runManager, true, (call) => this.#generate(messages, options, runManager, call)) as Promise<ChatResult>;
  }

  #generate(messages: BaseMessage[], options: this['ParsedCallOptions'], runManager: CallbackManagerForLLMRun | undefined, call: PreparedCall): Promise<ChatResult> {
    // Promise chains rather than async/await here and below: this is every call's path, and each
    // async layer costs promises (measured in bench/calls.mjs).
    return super._generate(messages, withCall(options, call), runManager).then(
      (result) => {
        const message = result.generations[0]?.message as AIMessage | undefined;
        call.gateway.recording?.finished(messageUsage(message?.usage_metadata, message?.response_metadata?.model_name));
        if (result.generations.length === 0) throw emptyAnswerError(this.#errorInfo(call));
        const portkey = gatewayResponseMetadata(call.gateway);
        if (portkey) {
          for (const generation of result.generations) {
            generation.message.response_metadata = withFields(generation.message.response_metadata, { portkey });
          }
        }
        return result;
      },
      (error) => {
        throw this.#failed(call, describeCallError(error, this.#errorInfo(call)));
      },
    );
  }

  /** `error` (as described to the caller), recorded as how the call's answered request ended, if that is not recorded already. */
  #failed(call: PreparedCall, error: unknown): unknown {
    call.gateway.recording?.failed(messageOf(error));
    return error;
  }

  /**
   * Streams the answer. A stream that ends without a finish reason (cut, or empty) throws
   * `STREAM_INCOMPLETE` after the chunks that did arrive; malformed SSE throws `MALFORMED_RESPONSE`.
   */
  override _streamResponseChunks(
    messages: BaseMessage[],
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    const stream = this.#whenReady(options, runManager, true, (call) => this.#stream(messages, options, runManager, call));
    return stream instanceof Promise ? laterStream(stream) : stream;
  }

  #stream(
    messages: BaseMessage[],
    options: this['ParsedCallOptions'],
    runManager: CallbackManagerForLLMRun | undefined,
    call: PreparedCall,
  ): AsyncGenerator<ChatGenerationChunk> {
    const inner = super._streamResponseChunks(messages, withCall(options, call), runManager);
    let chunks = 0;
    let finished = false;
    let ended = false;
    // The answer's usage: LangChain's last chunk carries it; the finish chunk names the model.
    let usage: UsageMetadata | undefined;
    let model: unknown;
    /** The consumer stopped reading: an answer that had reached its finish reason is complete. */
    const stopped = () => {
      if (ended) return;
      ended = true;
      if (finished) call.gateway.recording?.finished(messageUsage(usage, model));
      else call.gateway.recording?.failed('The answer was not read to its end: the stream was closed.');
    };
    // A plain iterator over LangChain's, not another async generator: a generator layer cost every
    // chunk a few promises (~15 µs a chunk in bench/calls.mjs).
    const next = (): Promise<IteratorResult<ChatGenerationChunk>> =>
      ended
        ? Promise.resolve({ done: true, value: undefined })
        : inner.next().then(
            (result) => {
              if (result.done) {
                ended = true;
                if (call.signal?.aborted) throw this.#failed(call, describeCallError(call.signal.reason, this.#errorInfo(call)));
                if (!finished) throw this.#failed(call, incompleteStreamError(chunks, this.#errorInfo(call)));
                call.gateway.recording?.finished(messageUsage(usage, model));
                return result;
              }
              const chunk = result.value;
              if (chunks === 0) {
                call.gateway.recording?.firstChunk();
                const portkey = gatewayResponseMetadata(call.gateway);
                // once only: chunks concatenate their response_metadata
                if (portkey) chunk.message.response_metadata = withFields(chunk.message.response_metadata, { portkey });
              }
              chunks++;
              const info = chunk.generationInfo;
              if (info?.finish_reason != null) {
                finished = true;
                model = info.model_name;
              }
              const chunkUsage = (chunk.message as AIMessageChunk).usage_metadata;
              if (chunkUsage !== undefined) usage = chunkUsage;
              return result;
            },
            (error) => {
              ended = true;
              throw this.#failed(call, describeCallError(error, this.#errorInfo(call)));
            },
          );
    const stream = {
      next,
      return: (value?: unknown) => {
        stopped();
        return inner.return(value as never);
      },
      throw: (error?: unknown) => {
        stopped();
        return inner.throw(error);
      },
      [Symbol.asyncIterator]() {
        return stream;
      },
    };
    return stream as unknown as AsyncGenerator<ChatGenerationChunk>;
  }

  /**
   * Sends one request to the gateway, retrying failures that can succeed on retry (connection
   * errors, 408 / 409 / 429 / 5xx; see `retry.ts`). Each attempt goes through LangChain's queue
   * on its own, so a call waiting to retry holds no `maxConcurrency` slot; the call's signal
   * (its own and the request's) cancels it at any point, and a call still queued when it fires is
   * never sent.
   */
  override completionWithRetry(request: any, requestOptions?: any): Promise<any> {
    // Called by itself (not by a model method), nothing else would record the answer: its body reports.
    return this.#whenReady(requestOptions ?? {}, undefined, false, (call) => this.#completionWithRetry(request, requestOptions, call)) as Promise<any>;
  }

  #completionWithRetry(request: any, requestOptions: any, call: PreparedCall): Promise<any> {
    const maxRetries = requestOptions?.maxRetries;
    // Copied with overrides, not `{ maxRetries, ...rest }`: object rest is much slower, on every call.
    const sdkOptions = withFields(requestOptions, {
      signal: call.signal,
      maxRetries: 0,
      // the call's headers travel with it to the gateway fetch
      fetchOptions: withFields(requestOptions?.fetchOptions, { [GATEWAY_CALL]: call.gateway }),
    });
    const retries = typeof maxRetries === 'number' ? maxRetries : this.#maxRetries;
    const attempt = (n: number): Promise<any> =>
      abortable(super.completionWithRetry(request, sdkOptions), call.signal).catch((error) => {
        // An answered request that failed after its answer began (its body cut, say) ends here.
        call.gateway.recording?.failed(messageOf(error));
        const delay = call.signal?.aborted ? undefined : retryDelay(error, n, retries);
        if (delay === undefined) throw describeCallError(error, this.#errorInfo(call, requestOptions?.timeout));
        return sleep(delay, call.signal).then(
          () => attempt(n + 1),
          (reason) => {
            throw describeCallError(reason, this.#errorInfo(call));
          },
        );
      });
    return attempt(0);
  }
}
