import type { OpenAI } from 'openai';
import { invalidOption } from '../../src/errors.js';
import { assertValidPortkeyOptions, isPlainObject, refuseBaseURL } from '../../src/headers.js';
import { mergePortkeyOptions, type PortkeyOptions, pickPortkeyOptions } from '../../src/options.js';
import { PORTKEY_REQUEST_OPTIONS, type PortkeyRequestInit } from '../../src/portkey-fetch.js';
import { withFields } from '../../src/copy.js';

/** The `openai` SDK's per-request options: the last argument of every API method (`timeout`, `signal`, `headers`, …). */
export type OpenAIRequestOptions = NonNullable<Parameters<OpenAI['chat']['completions']['create']>[1]>;

/**
 * The `openai` SDK request options for one call with its own Portkey options: they win over every
 * other layer (`metadata` is merged over the request's), reach every attempt of this call, and
 * never the next call. They travel in the call's `fetchOptions`, where the client's `fetch`
 * ({@link portkeyFetch}) reads them — so this also works with any `openai` client whose `fetch` is
 * `portkeyFetch()`.
 *
 * (The SDK's request options are a closed type, so `create(body, { portkey: … })` cannot typecheck:
 * this helper is the typed way.)
 *
 * @param overrides - Portkey options for this call (`metadata`, `cacheForceRefresh`, `cacheNamespace`,
 *   `config`, `traceId`, `spanName`, …). Not `baseURL`: that is the client's.
 * @param requestOptions - the SDK's own options for the call (`timeout`, `signal`, `headers`, …).
 * @returns `requestOptions` with the overrides added to its `fetchOptions`.
 * @throws {@link PortkeyContextError} `INVALID_OPTION` / `INVALID_HEADER_VALUE` at once, for an
 *   option that cannot be sent.
 *
 * @example
 * ```ts
 * await client.chat.completions.create(body, portkeyCall({ cacheForceRefresh: true, metadata: { feature: 'summary' } }));
 * await client.chat.completions.create(body, portkeyCall({ cacheNamespace: 'faq' }, { timeout: 10_000 }));
 * ```
 */
export function portkeyCall(overrides: PortkeyOptions, requestOptions: OpenAIRequestOptions = {}): OpenAIRequestOptions {
  if (!isPlainObject(overrides)) throw invalidOption('overrides', 'an object of Portkey options', overrides);
  if (!isPlainObject(requestOptions)) throw invalidOption('requestOptions', 'an object of openai request options', requestOptions);
  refuseBaseURL(overrides, 'a single call');
  const given = (requestOptions.fetchOptions as PortkeyRequestInit | undefined)?.[PORTKEY_REQUEST_OPTIONS];
  const own = given === undefined ? pickPortkeyOptions(overrides) : mergePortkeyOptions(given, overrides);
  assertValidPortkeyOptions(own);
  const fetchOptions: PortkeyRequestInit = withFields(requestOptions.fetchOptions, { [PORTKEY_REQUEST_OPTIONS]: own });
  return withFields(requestOptions, { fetchOptions: fetchOptions as OpenAIRequestOptions['fetchOptions'] });
}
