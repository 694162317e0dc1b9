import { refuseConfigurationRouting, refuseProviderKey } from '../../src/client-checks.js';
import { PortkeyContextError } from '../../src/errors.js';

/**
 * Refuses what a user coming from `new OpenAI({ apiKey, baseURL })` tends to write, naming the
 * option to use instead (never a value): silently ignoring it sent calls without the key or to the
 * URL the user did not mean.
 *
 * @param configuration - the `configuration` option (own properties), if any.
 * @param apiKey - the Portkey API key in force (the option, else `PORTKEY_API_KEY`).
 * @throws {@link PortkeyContextError} `INVALID_OPTION`.
 */
export function refuseOpenAIHabits(configuration: Record<string, unknown> | undefined, apiKey: unknown): void {
  refuseConfigurationRouting(configuration);
  refuseProviderKey(apiKey, 'createPortkeyOpenAI()');
}

/** Where an option given at the top level that is not a Portkey option belongs. */
export function misplacedOption(key: string): PortkeyContextError {
  return new PortkeyContextError(
    'INVALID_OPTION',
    `createPortkeyOpenAI() does not take "${key}" at the top level: the top level takes Portkey options; give \`openai\` client options (timeout, maxRetries, fetch, defaultHeaders, …) under \`configuration\`.`,
  );
}
