export {
  getPortkeyContext,
  type PortkeyContext,
  type PortkeyContextInit,
  portkeyContextStorage,
  portkeyHeaders,
  portkeySignal,
  runWithPortkeyContext,
  tryGetPortkeyContext,
  withPortkeyOverrides,
} from './context.js';
export { disconnectSignal, type ResponseLike } from './disconnect.js';
export { PortkeyContextError, type PortkeyContextErrorCode } from './errors.js';
export { asciiJson } from './ascii-json.js';
export { assertValidPortkeyOptions, createPortkeyHeaders, PORTKEY_HEADER_NAMES } from './headers.js';
export { displayURL, redactSecrets, SECRET_PORTKEY_OPTIONS, secretValues, urlSecrets } from './secrets.js';
export {
  METADATA_HEADER_MAX_LENGTH,
  METADATA_KEY_MAX_LENGTH,
  METADATA_VALUE_MAX_LENGTH,
  metadataHeader,
  normalizeMetadata,
  userMetadata,
} from './metadata.js';
export {
  DEFAULT_PORTKEY_BASE_URL,
  mergePortkeyOptions,
  PORTKEY_OPTION_KEYS,
  type PortkeyMetadata,
  type PortkeyOptions,
  pickPortkeyOptions,
  resolvePortkeyOptions,
} from './options.js';
export {
  createRequestContextFactory,
  findRequestContext,
  type PortkeyRequestOptions,
  PortkeyRequestContext,
  type RequestLike,
  type RequestMetadataOption,
} from './request-context.js';
export {
  createTraceIdReader,
  DEFAULT_TRACE_ID_HEADERS,
  generateSpanId,
  generateTraceId,
  isValidTraceId,
  parseTraceparent,
  readTraceId,
  TRACE_ID_MAX_LENGTH,
  traceIdResponseHeader,
  type TraceIdOptions,
} from './trace-id.js';
