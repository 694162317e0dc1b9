import { PROVIDER_AUTH, refuseConfigurationRouting, refuseProviderKey } from '../../src/client-checks.js';
import { PortkeyContextError } from '../../src/errors.js';

/**
 * `ChatOpenAI` fields that mean something else (or nothing) on `ChatPortkey`, each with the Portkey
 * option to use instead. Refused at construction: silently ignoring them sent calls without the
 * key or to the URL the user meant.
 */
const CHAT_OPENAI_FIELDS: Record<string, string> = {
  openAIApiKey: `ChatPortkey sends no OpenAI key of its own: ${PROVIDER_AUTH}; \`apiKey\` is the Portkey API key.`,
  azureOpenAIApiKey: `ChatPortkey sends no Azure key of its own: ${PROVIDER_AUTH} (plus azureResourceName / azureDeploymentId / azureApiVersion).`,
  azureOpenAIApiInstanceName: 'use the Portkey option azureResourceName.',
  azureOpenAIApiDeploymentName: 'use the Portkey option azureDeploymentId.',
  azureOpenAIApiVersion: 'use the Portkey option azureApiVersion.',
  azureOpenAIBasePath: 'give the Azure endpoint as the Portkey option customHost.',
  azureOpenAIEndpoint: 'give the Azure endpoint as the Portkey option customHost.',
};

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
  refuseConfigurationRouting(fields.configuration as Record<string, unknown> | undefined);
  if (fields.useResponsesApi === true) {
    throw new PortkeyContextError('INVALID_OPTION', 'ChatPortkey always uses the Chat Completions API (every gateway provider implements it): remove useResponsesApi.');
  }
  refuseProviderKey(apiKey, 'ChatPortkey');
}
