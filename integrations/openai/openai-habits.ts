import { PortkeyContextError } from '../../src/errors.js';

/**
 * What a user coming from `new OpenAI({ apiKey, baseURL, timeout })` tends to write, and what to
 * write instead: refused at construction, because silently ignoring it sent calls without the key,
 * to the URL the user did not mean, or without the timeout they set.
 */
const PROVIDER_AUTH = "for provider auth give `provider: 'openai', authorization: 'Bearer sk-…'`, a `virtualKey` or a `config`";
const CONFIGURATION_FIELDS: Record<string, string> = {
  apiKey: `configuration.apiKey is not sent: ${PROVIDER_AUTH}; \`apiKey\` (top level) is the Portkey API key.`,
  baseURL: 'configuration.baseURL is not used: give the gateway URL as `baseURL` (top level) or PORTKEY_BASE_URL.',
};

/** A provider's key by its look (OpenAI `sk-…`, `sk-proj-…`, Anthropic `sk-ant-…`): not a Portkey key. */
const PROVIDER_KEY = /^sk-/;

/**
 * Refuses the `openai` client habits above, naming the option to use instead (never a value).
 *
 * @param configuration - the `configuration` option (own properties), if any.
 * @param apiKey - the Portkey API key in force (the option, else `PORTKEY_API_KEY`).
 * @throws {@link PortkeyContextError} `INVALID_OPTION`.
 */
export function refuseOpenAIHabits(configuration: Record<string, unknown> | undefined, apiKey: unknown): void {
  for (const key of Object.keys(CONFIGURATION_FIELDS)) {
    if (configuration !== undefined && Object.hasOwn(configuration, key) && configuration[key] !== undefined) {
      throw new PortkeyContextError('INVALID_OPTION', CONFIGURATION_FIELDS[key]!);
    }
  }
  if (typeof apiKey === 'string' && PROVIDER_KEY.test(apiKey)) {
    throw new PortkeyContextError(
      'INVALID_OPTION',
      `createPortkeyOpenAI()'s apiKey (or PORTKEY_API_KEY) is the Portkey API key, and the one given looks like a provider's key ("sk-…"): ${PROVIDER_AUTH}.`,
    );
  }
}

/** Where an option given at the top level that is not a Portkey option belongs. */
export function misplacedOption(key: string): PortkeyContextError {
  return new PortkeyContextError(
    'INVALID_OPTION',
    `createPortkeyOpenAI() does not take "${key}" at the top level: the top level takes Portkey options; give \`openai\` client options (timeout, maxRetries, fetch, defaultHeaders, …) under \`configuration\`.`,
  );
}
