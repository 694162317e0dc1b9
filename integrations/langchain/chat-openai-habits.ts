import { PortkeyContextError } from '../../src/errors.js';

/**
 * `ChatOpenAI` fields that mean something else (or nothing) on `ChatPortkey`, each with the Portkey
 * option to use instead. Refused at construction: silently ignoring them sent calls without the
 * key or to the URL the user meant.
 */
const PROVIDER_AUTH = "for provider auth give `provider: 'openai', authorization: 'Bearer sk-…'`, a `virtualKey` or a `config`";
const CHAT_OPENAI_FIELDS: Record<string, string> = {
  openAIApiKey: `ChatPortkey sends no OpenAI key of its own: ${PROVIDER_AUTH}; \`apiKey\` is the Portkey API key.`,
  azureOpenAIApiKey: `ChatPortkey sends no Azure key of its own: ${PROVIDER_AUTH} (plus azureResourceName / azureDeploymentId / azureApiVersion).`,
  azureOpenAIApiInstanceName: 'use the Portkey option azureResourceName.',
  azureOpenAIApiDeploymentName: 'use the Portkey option azureDeploymentId.',
  azureOpenAIApiVersion: 'use the Portkey option azureApiVersion.',
  azureOpenAIBasePath: 'give the Azure endpoint as the Portkey option customHost.',
  azureOpenAIEndpoint: 'give the Azure endpoint as the Portkey option customHost.',
};
const CONFIGURATION_FIELDS: Record<string, string> = {
  apiKey: `configuration.apiKey is not sent: ${PROVIDER_AUTH}; \`apiKey\` (top level) is the Portkey API key.`,
  baseURL: 'configuration.baseURL is not used: give the gateway URL as `baseURL` (top level) or PORTKEY_BASE_URL.',
};

/** A provider's key by its look (OpenAI `sk-…`, `sk-proj-…`, Anthropic `sk-ant-…`): not a Portkey key. */
const PROVIDER_KEY = /^sk-/;

/**
 * Refuses the `ChatOpenAI` habits above, naming the Portkey option to use instead (never a value).
 *
 * @param fields - the constructor's fields (own properties).
 * @param apiKey - the Portkey API key in force (the option, else `PORTKEY_API_KEY`).
 * @throws {@link PortkeyContextError} `INVALID_OPTION`.
 */
export function refuseChatOpenAIHabits(fields: Record<string, unknown>, apiKey: unknown): void {
  for (const key of Object.keys(CHAT_OPENAI_FIELDS)) {
    if (fields[key] !== undefined) throw new PortkeyContextError('INVALID_OPTION', `ChatPortkey does not take "${key}": ${CHAT_OPENAI_FIELDS[key]}`);
  }
  const configuration = fields.configuration as Record<string, unknown> | undefined;
  for (const key of Object.keys(CONFIGURATION_FIELDS)) {
    if (configuration != null && Object.hasOwn(configuration, key) && configuration[key] !== undefined) {
      throw new PortkeyContextError('INVALID_OPTION', CONFIGURATION_FIELDS[key]!);
    }
  }
  if (fields.useResponsesApi === true) {
    throw new PortkeyContextError('INVALID_OPTION', 'ChatPortkey always uses the Chat Completions API (every gateway provider implements it): remove useResponsesApi.');
  }
  if (typeof apiKey === 'string' && PROVIDER_KEY.test(apiKey)) {
    throw new PortkeyContextError(
      'INVALID_OPTION',
      `ChatPortkey's apiKey (or PORTKEY_API_KEY) is the Portkey API key, and the one given looks like a provider's key ("sk-…"): ${PROVIDER_AUTH}.`,
    );
  }
}
