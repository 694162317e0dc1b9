/**
 * What every gateway client (`ChatPortkey`, `createPortkeyOpenAI()`, `createPortkey()`) checks:
 * at construction, that no provider key or URL was given where the Portkey ones go; at call time,
 * that a call to Portkey's hosted gateway has a Portkey API key.
 */
import { PortkeyContextError } from './errors.js';
import { displayURL } from './secrets.js';

/** What to give instead of a provider key, for the error messages. */
export const PROVIDER_AUTH = "for provider auth give `provider: 'openai', authorization: 'Bearer sk-…'`, a `virtualKey` or a `config`";

/** A provider's key by its look (OpenAI `sk-…`, `sk-proj-…`, Anthropic `sk-ant-…`): not a Portkey key. */
const PROVIDER_KEY = /^sk-/;

/** `configuration` (the underlying client's options) fields the Portkey options replace. */
const CONFIGURATION_FIELDS: Record<string, string> = {
  apiKey: `configuration.apiKey is not sent: ${PROVIDER_AUTH}; \`apiKey\` (top level) is the Portkey API key.`,
  baseURL: 'configuration.baseURL is not used: give the gateway URL as `baseURL` (top level) or PORTKEY_BASE_URL.',
};

/**
 * Refuses a provider's key given as the Portkey API key (never echoing it).
 *
 * @param apiKey - the Portkey API key in force (the option, else `PORTKEY_API_KEY`).
 * @param client - the client's name in the message, e.g. `ChatPortkey`.
 * @throws {@link PortkeyContextError} `INVALID_OPTION`.
 */
export function refuseProviderKey(apiKey: unknown, client: string): void {
  if (typeof apiKey === 'string' && PROVIDER_KEY.test(apiKey)) {
    throw new PortkeyContextError(
      'INVALID_OPTION',
      `${client}'s apiKey (or PORTKEY_API_KEY) is the Portkey API key, and the one given looks like a provider's key ("sk-…"): ${PROVIDER_AUTH}.`,
    );
  }
}

/**
 * Refuses `configuration.apiKey` and `configuration.baseURL` (own properties), naming the Portkey
 * option to use instead.
 *
 * @throws {@link PortkeyContextError} `INVALID_OPTION`.
 */
export function refuseConfigurationRouting(configuration: Record<string, unknown> | null | undefined): void {
  if (configuration == null) return;
  for (const key of Object.keys(CONFIGURATION_FIELDS)) {
    if (Object.hasOwn(configuration, key) && configuration[key] !== undefined) {
      throw new PortkeyContextError('INVALID_OPTION', CONFIGURATION_FIELDS[key]!);
    }
  }
}

/**
 * The error for a call to Portkey's hosted gateway with no Portkey API key in any layer (it would be
 * answered 401): every client refuses such a call before sending it.
 *
 * @param client - what the app made the client with, e.g. `createPortkeyOpenAI()`.
 * @param perCall - how one call takes an `apiKey`, e.g. `portkeyCall({ apiKey })`.
 */
export function noPortkeyKeyError(baseURL: string, client: string, perCall: string): PortkeyContextError {
  return new PortkeyContextError(
    'INVALID_OPTION',
    `No Portkey API key for a call to Portkey's hosted gateway (${displayURL(baseURL)}): set PORTKEY_API_KEY, or give apiKey to ${client}, the middleware / module, or the call (${perCall}). ` +
      'For a self-hosted gateway, set baseURL (or PORTKEY_BASE_URL) to it.',
  );
}

/** Whether `baseURL` is Portkey's hosted gateway (`*.portkey.ai`), which needs a Portkey API key on every call. */
export function isHostedGateway(baseURL: string): boolean {
  const host = new URL(baseURL).hostname;
  return host === 'portkey.ai' || host.endsWith('.portkey.ai');
}
