import { createParamDecorator } from '@nestjs/common';
import { requirePortkeyContext } from './require-context.js';

const traceIdParam = createParamDecorator(() => requirePortkeyContext().traceId);
const metadataParam = createParamDecorator((key: string | undefined) => {
  const metadata = requirePortkeyContext().metadata;
  return key === undefined ? metadata : metadata[key];
});

/**
 * Parameter decorator: the request's Portkey trace ID.
 *
 * @returns the parameter decorator.
 * @throws {@link PortkeyContextError} `NO_CONTEXT` (a 500 for the request) when the route has no context.
 *
 * @example
 * ```ts
 * @Get('ask')
 * ask(@PortkeyTraceId() traceId: string) { return { traceId }; }
 * ```
 */
export function PortkeyTraceId(): ParameterDecorator {
  return traceIdParam();
}

/**
 * Parameter decorator: the request's Portkey metadata (`_user`, `_organisation`, `_environment`
 * and the module's `metadata`), resolved when the handler is called — after guards, so the user a
 * guard set is in it — or one key of it.
 *
 * @param key - a metadata key (`'_user'`, say) to get its value instead of the whole object.
 * @returns the parameter decorator.
 * @throws {@link PortkeyContextError} `NO_CONTEXT` (a 500 for the request) when the route has no context.
 *
 * @example
 * ```ts
 * @Get('me')
 * me(@PortkeyMetadata() metadata: Record<string, unknown>, @PortkeyMetadata('_user') user?: string) { ... }
 * ```
 */
export function PortkeyMetadata(key?: string): ParameterDecorator {
  return metadataParam(key);
}
