/**
 * A model of the AI SDK's provider spec (language, embedding or image model; spec v3 for `ai` 6,
 * v4 for `ai` 7) whose calls take their Portkey options from `providerOptions.portkey`: each call
 * runs in a `withPortkeyOverrides` scope, where the provider's `portkeyFetch` reads them when the
 * request is sent, and the model itself never sees them (it would write them into the request body).
 *
 * Everything else is the inner model's, read through a Proxy: `specificationVersion`, `provider`,
 * `modelId`, `supportedUrls` and whatever a later spec adds.
 */
import { whenReadyToSend } from '../../src/call-policy.js';
import { tryGetPortkeyContext, withPortkeyOverrides } from '../../src/context.js';
import { type PortkeyCallOptions, takePortkeyCallOptions } from './call-options.js';
import { withFields } from '../../src/copy.js';

/** The methods of the provider spec that make one call to the gateway. */
const CALL_METHODS = ['doGenerate', 'doStream', 'doEmbed'] as const;

/** Runs before every call, in the caller's context, with the call's Portkey options; may throw to refuse the call. */
export type BeforeCall = (overrides: PortkeyCallOptions | undefined) => void;

/** Whether `value` is a model this wrapper serves: an object with one of {@link CALL_METHODS}. */
export function isCallableModel(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  return CALL_METHODS.some((method) => typeof (value as Record<string, unknown>)[method] === 'function');
}

type CallMethod = (this: object, options?: Record<string, unknown>) => PromiseLike<unknown>;

function callWithPortkeyOptions(inner: object, method: CallMethod, options: Record<string, unknown> | undefined, beforeCall: BeforeCall): PromiseLike<unknown> {
  // The request's tenant, requireTenant and the token budget: waited for, or refused, before the call.
  return whenReadyToSend(tryGetPortkeyContext(), () => {
    try {
      const { overrides, providerOptions } = takePortkeyCallOptions(options?.providerOptions);
      beforeCall(overrides);
      const forwarded = options !== undefined && providerOptions !== options.providerOptions ? withFields(options, { providerOptions }) : options;
      return overrides === undefined ? method.call(inner, forwarded) : withPortkeyOverrides(overrides, () => method.call(inner, forwarded));
    } catch (error) {
      // The spec's methods return promises: a refused call is a rejection, as a failed one would be.
      return Promise.reject(error);
    }
  });
}

/**
 * `inner` with its call methods taking `providerOptions.portkey` (see the module comment).
 *
 * @param inner - a model made by `@ai-sdk/openai-compatible`.
 * @param beforeCall - checks made before each call (a key for the hosted gateway, a context).
 */
export function withPortkeyCallOptions<M extends object>(inner: M, beforeCall: BeforeCall): M {
  const own = new Map<PropertyKey, unknown>();
  for (const name of CALL_METHODS) {
    const method = (inner as Record<string, unknown>)[name];
    if (typeof method === 'function') {
      own.set(name, (options?: Record<string, unknown>) => callWithPortkeyOptions(inner, method as CallMethod, options, beforeCall));
    }
  }
  return new Proxy(inner, {
    get(target, property) {
      if (own.has(property)) return own.get(property);
      const value = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      // Bound once, to the inner model: its methods may use private fields, which a Proxy does not have.
      const bound = value.bind(target);
      own.set(property, bound);
      return bound;
    },
  });
}
