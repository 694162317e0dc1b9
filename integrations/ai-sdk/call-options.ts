/**
 * One call's Portkey options, as an AI SDK call gives them: `providerOptions.portkey`. They are
 * taken out of the call options here (so the model never writes them into the request body) and
 * checked, so a bad one is a `PortkeyContextError`, never a TypeError from deep in a client.
 */
import { describeType, PortkeyContextError } from '../../src/errors.js';
import { isPlainObject } from '../../src/headers.js';
import { PORTKEY_OPTION_KEYS, type PortkeyOptions } from '../../src/options.js';

/** The `providerOptions` key of a Portkey model's per-call options (the provider's name). */
export const PORTKEY_PROVIDER_OPTIONS_KEY = 'portkey';

/**
 * Portkey options for one AI SDK call, given as `providerOptions.portkey`: every
 * {@link PortkeyOptions} field but `baseURL` (`traceId`, `metadata`, `cacheForceRefresh`,
 * `cacheNamespace`, `config`, `spanName`, …). They win over the provider's and the request's options
 * for that call only; `metadata` is merged over the request's. They are sent as headers, never in
 * the request body.
 *
 * @example
 * ```ts
 * await generateText({ model, prompt, providerOptions: { portkey: { metadata: { feature: 'summary' } } satisfies PortkeyCallOptions } });
 * ```
 */
export type PortkeyCallOptions = Omit<PortkeyOptions, 'baseURL'>;

const CALL_OPTION_KEYS: ReadonlySet<string> = new Set(PORTKEY_OPTION_KEYS.filter((key) => key !== 'baseURL'));

/** A call's options split in two: its Portkey options, and the `providerOptions` the model is given. */
export interface TakenCallOptions {
  /** `providerOptions.portkey`, checked (own properties only); `undefined` when the call has none. */
  overrides: PortkeyCallOptions | undefined;
  /** The call's `providerOptions` without `portkey` (the same object when it had none). */
  providerOptions: unknown;
}

/** A name as an error may show it: short, printable. */
function shownKey(key: string): string {
  return JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
}

/**
 * Takes `portkey` out of a call's `providerOptions` and checks its shape: an object whose keys are
 * Portkey options (`baseURL` is the provider's, not a call's). The values are checked when the
 * call's scope is opened (`withPortkeyOverrides`).
 *
 * @throws {@link PortkeyContextError} `INVALID_OPTION` naming what is wrong (never a value).
 */
export function takePortkeyCallOptions(providerOptions: unknown): TakenCallOptions {
  if (!isPlainObject(providerOptions) || !Object.hasOwn(providerOptions, PORTKEY_PROVIDER_OPTIONS_KEY)) {
    return { overrides: undefined, providerOptions };
  }
  const { [PORTKEY_PROVIDER_OPTIONS_KEY]: given, ...rest } = providerOptions;
  if (given === undefined || given === null) return { overrides: undefined, providerOptions: rest };
  if (!isPlainObject(given)) {
    throw new PortkeyContextError('INVALID_OPTION', `providerOptions.portkey must be an object of Portkey options, got ${describeType(given)}.`);
  }
  const overrides: Record<string, unknown> = {};
  for (const key of Object.keys(given)) {
    if (key === 'baseURL') {
      throw new PortkeyContextError(
        'INVALID_OPTION',
        'providerOptions.portkey cannot set "baseURL": it is where the provider sends its calls. Give it to createPortkey({ baseURL }) or set PORTKEY_BASE_URL.',
      );
    }
    if (!CALL_OPTION_KEYS.has(key)) {
      throw new PortkeyContextError(
        'INVALID_OPTION',
        `providerOptions.portkey takes Portkey options (${[...CALL_OPTION_KEYS].join(', ')}); ${shownKey(key)} is not one. ` +
          'Request-body settings of an OpenAI-compatible model go in providerOptions.openaiCompatible (user, reasoningEffort, textVerbosity, strictJsonSchema).',
      );
    }
    if (given[key] !== undefined) overrides[key] = given[key];
  }
  return { overrides: Object.keys(overrides).length > 0 ? (overrides as PortkeyCallOptions) : undefined, providerOptions: rest };
}
