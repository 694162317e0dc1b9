import { createOpenAICompatible, type OpenAICompatibleProvider, type OpenAICompatibleProviderSettings } from '@ai-sdk/openai-compatible';
import { isHostedGateway, noPortkeyKeyError, refuseProviderKey } from '../../src/client-checks.js';
import { tryGetPortkeyContext, warnNoContext } from '../../src/context.js';
import { describeType, PortkeyContextError } from '../../src/errors.js';
import { isPlainObject } from '../../src/headers.js';
import { PORTKEY_OPTION_KEYS, type PortkeyOptions, pickPortkeyOptions, resolvePortkeyOptions } from '../../src/options.js';
import { portkeyFetch } from '../../src/portkey-fetch.js';
import { PORTKEY_PROVIDER_OPTIONS_KEY, type PortkeyCallOptions } from './call-options.js';
import { isCallableModel, withPortkeyCallOptions } from './wrap-model.js';

/** Settings of `@ai-sdk/openai-compatible` that {@link createPortkey} sets itself, or takes under a Portkey meaning. */
type OwnSettings = 'baseURL' | 'name' | 'apiKey' | 'fetch' | 'includeUsage' | 'supportsStructuredOutputs';

/**
 * Options of {@link createPortkey}: the app's default {@link PortkeyOptions} (`apiKey` is the
 * **Portkey** API key; `baseURL` the gateway), and the settings of `@ai-sdk/openai-compatible`'s
 * `createOpenAICompatible` it passes on (`headers`, `transformRequestBody`, `metadataExtractor`, …).
 *
 * No provider key is sent unless you configure provider auth: `authorization` (with `provider`),
 * a `virtualKey`, or a `config`.
 */
export interface PortkeyProviderSettings extends Omit<PortkeyOptions, 'spanId'>, Omit<OpenAICompatibleProviderSettings, OwnSettings> {
  /** The `fetch` that sends each request, after the Portkey headers are added. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Ask for token usage in streamed answers (`stream_options.include_usage`). @default true */
  includeUsage?: boolean;
  /** Send a JSON schema as `response_format: json_schema` (`generateObject`, `Output.object`); `false`: `json_object`. @default true */
  supportsStructuredOutputs?: boolean;
}

/**
 * The provider {@link createPortkey} returns: `@ai-sdk/openai-compatible`'s provider (of the version
 * installed: spec v3 models for `ai` 6, v4 for `ai` 7), every model of which sends the Portkey
 * context in force and takes per-call options from `providerOptions.portkey`.
 */
export type PortkeyProvider = OpenAICompatibleProvider<string, string, string, string>;


/**
 * A Vercel AI SDK provider that talks to the Portkey gateway: every call its models make (with
 * `generateText`, `streamText`, `generateObject`, tools, agents, `embed`) carries the Portkey
 * context in force when the request is sent — the request's trace ID and user, the middleware's
 * options — and is aborted when the HTTP client of the request goes away. Make one for the app.
 *
 * Precedence, lowest first: `PORTKEY_API_KEY` < these options < the request context (and any
 * `withPortkeyOverrides` scope) < the call's `providerOptions.portkey`. A gateway error keeps the
 * gateway's message, ends in the trace ID, and shows no key.
 *
 * @param settings - Portkey options and `createOpenAICompatible` settings (see {@link PortkeyProviderSettings}).
 * @throws {@link PortkeyContextError} `INVALID_OPTION` / `INVALID_HEADER_VALUE` for a bad option, at once.
 *
 * @example
 * ```ts
 * import { generateText } from 'ai';
 * import { createPortkey } from 'portkey-context/ai-sdk';
 *
 * const portkey = createPortkey({ config: process.env.PORTKEY_CONFIG });
 * const { text } = await generateText({ model: portkey('gpt-4o-mini'), prompt: 'Hello!' });
 * ```
 */
export function createPortkey(settings: PortkeyProviderSettings = {}): PortkeyProvider {
  if (!isPlainObject(settings)) throw new PortkeyContextError('INVALID_OPTION', `createPortkey(settings) takes an object of options, got ${describeType(settings)}.`);
  // Own properties only: nothing inherited from a polluted Object.prototype is read.
  const own: Record<string, unknown> = Object.assign(Object.create(null), settings);
  if (own.spanId != null) {
    throw new PortkeyContextError('INVALID_OPTION', 'Portkey option "spanId" names one call: give it per call (providerOptions: { portkey: { spanId } }), not to the provider.');
  }
  if (own.name !== undefined) {
    throw new PortkeyContextError('INVALID_OPTION', `createPortkey() names its provider "${PORTKEY_PROVIDER_OPTIONS_KEY}" (per-call options go in providerOptions.portkey): remove "name".`);
  }
  for (const flag of ['includeUsage', 'supportsStructuredOutputs'] as const) {
    if (own[flag] !== undefined && typeof own[flag] !== 'boolean') {
      throw new PortkeyContextError('INVALID_OPTION', `createPortkey option "${flag}" must be a boolean, got ${describeType(own[flag])}.`);
    }
  }
  const { baseURL, ...resolved } = resolvePortkeyOptions(pickPortkeyOptions(own));
  refuseProviderKey(resolved.apiKey, 'createPortkey');
  // The Portkey options as given (PORTKEY_API_KEY is read when each request is sent, by portkeyFetch).
  const { baseURL: _baseURL, ...portkeyOptions } = pickPortkeyOptions(own);
  const gatewayFetch = portkeyFetch({ ...portkeyOptions, ...(own.fetch !== undefined ? { fetch: own.fetch as typeof fetch } : {}) });

  const passedOn: Record<string, unknown> = {};
  const taken: ReadonlySet<string> = new Set<string>([...PORTKEY_OPTION_KEYS, 'name', 'apiKey', 'fetch', 'includeUsage', 'supportsStructuredOutputs']);
  for (const key of Object.keys(own)) if (!taken.has(key) && own[key] !== undefined) passedOn[key] = own[key];
  const compatible = createOpenAICompatible({
    ...(passedOn as Partial<OpenAICompatibleProviderSettings>),
    name: PORTKEY_PROVIDER_OPTIONS_KEY,
    baseURL,
    // No `apiKey`: the client sends no `Authorization` of its own; provider auth comes from the Portkey options.
    fetch: gatewayFetch,
    includeUsage: (own.includeUsage as boolean | undefined) ?? true,
    supportsStructuredOutputs: (own.supportsStructuredOutputs as boolean | undefined) ?? true,
  });

  const hosted = isHostedGateway(baseURL);
  const staticApiKey = portkeyOptions.apiKey;
  const beforeCall = (overrides: PortkeyCallOptions | undefined): void => {
    const context = tryGetPortkeyContext();
    if (context === undefined) warnNoContext('A createPortkey() model');
    if (hosted && !(overrides?.apiKey ?? context?.options.apiKey ?? staticApiKey ?? process.env.PORTKEY_API_KEY)) {
      throw noPortkeyKeyError(baseURL, 'createPortkey()', 'providerOptions.portkey.apiKey');
    }
  };
  const wrap = (made: unknown): unknown => (isCallableModel(made) ? withPortkeyCallOptions(made, beforeCall) : made);

  // The same provider, each model it makes wrapped: `portkey(id)`, `languageModel`, `chatModel`,
  // `completionModel`, `embeddingModel`, `imageModel`, and whatever the installed version adds.
  const provider = (modelId: string) => wrap(compatible(modelId));
  for (const key of Object.keys(compatible)) {
    const value = (compatible as unknown as Record<string, unknown>)[key];
    (provider as unknown as Record<string, unknown>)[key] =
      typeof value === 'function' ? (...args: unknown[]) => wrap((value as (...a: unknown[]) => unknown).apply(compatible, args)) : value;
  }
  return provider as unknown as PortkeyProvider;
}
