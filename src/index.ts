// The public API of `portkey-context`: what the README documents, and nothing the integrations
// need internally (they import the modules directly).
export {
  getPortkeyContext,
  type PortkeyContext,
  type PortkeyContextInit,
  portkeyHeaders,
  portkeySignal,
  portkeyUsage,
  resolvePortkeyTenant,
  runWithPortkeyContext,
  tryGetPortkeyContext,
  withPortkeyOverrides,
} from './context.js';
export { PortkeyContextError, type PortkeyContextErrorCode } from './errors.js';
export { createPortkeyHeaders } from './headers.js';
export { PORTKEY_REQUEST_OPTIONS, type PortkeyFetchOptions, type PortkeyRequestInit, portkeyFetch } from './portkey-fetch.js';
export { type PortkeyResponseMetadata, readPortkeyResponseHeaders } from './gateway-fetch.js';
export { METADATA_HEADER_MAX_LENGTH, metadataHeader } from './metadata.js';
export { type PortkeyMetadataRecord, type PortkeyOptions, resolvePortkeyOptions } from './options.js';
export {
  capturePortkeyContext,
  type PortkeyContextSnapshot,
  type PortkeyPropagationOptions,
  portkeyPropagationHeaders,
  withPortkeyPropagation,
} from './propagation.js';
export type { PortkeyRequestOptions, RequestLike, RequestMetadataOption } from './request-context.js';
export type { PortkeyRequestEndSummary, RequestEndOptions } from './request-end.js';
export type { PortkeyCallPolicyOptions, TenantResult } from './call-policy.js';
export type { TenantRouting } from './tenant.js';
export type { PortkeyCallUsage, PortkeyUsageSummary } from './usage-ledger.js';
export { displayURL, redactSecrets, secretValues } from './secrets.js';
export {
  DEFAULT_TRACE_ID_HEADERS,
  type TraceIdSource,
  generateSpanId,
  generateTraceId, isValidTraceId, parseTraceparent, readTraceId, type TraceIdOptions } from './trace-id.js';

import type { PortkeyMetadataRecord } from './options.js';
/**
 * @deprecated Renamed {@link PortkeyMetadataRecord}: `PortkeyMetadata` is also the NestJS parameter
 * decorator of `portkey-context/nestjs`, and importing both clashed (TS2300).
 */
export type PortkeyMetadata = PortkeyMetadataRecord;
