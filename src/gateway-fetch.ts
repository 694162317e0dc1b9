/**
 * One request to the gateway, whichever client sends it (`ChatPortkey`, `portkeyFetch()`, the
 * `openai` SDK, the Vercel AI SDK): the call's Portkey headers set over the client's at send time,
 * the client's placeholder key removed, error bodies that keep the gateway's message and the trace
 * ID and carry no secret, and the response headers kept for whoever asks what the gateway said.
 */
import { recordedResponse } from './answer-usage.js';
import { messageOf } from './errors.js';
import { redactSecrets } from './secrets.js';
import type { CallRecording, UsageLedger } from './usage-ledger.js';
import { withFields } from './copy.js';

/**
 * The key handed to an `openai`-style client, which insists on one: it is never sent (the request's
 * `Authorization: Bearer <this>` is removed) unless provider auth replaces it.
 */
export const NO_PROVIDER_KEY = 'portkey-context-sends-no-provider-key';
const PLACEHOLDER_AUTHORIZATION = `Bearer ${NO_PROVIDER_KEY}`;

/** One call as the gateway fetch sees it. */
export interface GatewayCall {
  /** The call's `x-portkey-*` headers (and `Authorization` when provider auth is set). */
  headers: Record<string, string>;
  /** The trace ID the call carries: added to an error's message, once. */
  traceId?: string | undefined;
  /** Values no error body may show (keys, provider auth): made only when there is an error. */
  secrets?: () => readonly string[];
  /** The gateway's response headers, kept as they came. */
  responseHeaders?: Headers;
  /** What Portkey's response headers said (`readPortkeyResponseHeaders`), read once, when first needed. */
  portkey?: PortkeyResponseMetadata;
  /** The usage ledger of the call's context: each request sent is recorded in it. */
  ledger?: UsageLedger | undefined;
  /**
   * The client reports how an answer ended, and its usage, itself (`ChatPortkey`, from what
   * LangChain parsed): an answered request's recording is left in {@link recording} and its body is
   * not observed. Otherwise the body reports as the client reads it.
   */
  answerRecorded?: boolean;
  /** With {@link answerRecorded}: the recording of the last request of this call the gateway answered. */
  recording?: CallRecording;
}

/** What Portkey's response headers say about a call. */
export interface PortkeyResponseMetadata {
  /** `x-portkey-trace-id` echoed by the gateway. */
  traceId?: string;
  /** `x-portkey-provider`: the provider that answered. */
  provider?: string;
  /** `x-portkey-retry-attempt-count`. */
  retryAttemptCount?: number;
  /** `x-portkey-cache-status` (e.g. `HIT`, `MISS`, `DISABLED`). */
  cacheStatus?: string;
  /** `x-portkey-last-used-option-index`: which config target answered (fallback / load balancing). */
  lastUsedOptionIndex?: string;
}

/**
 * Reads Portkey's response headers from a gateway response's headers.
 *
 * @param headers - a `Headers` (fetch, the `openai` SDK's `response.headers`) or a plain record.
 */
export function readPortkeyResponseHeaders(headers: Headers | Record<string, string | string[] | undefined>): PortkeyResponseMetadata {
  const get =
    headers instanceof Headers
      ? (name: string) => headers.get(name)
      : (name: string) => {
          const value = headers[name];
          return typeof value === 'string' ? value : null;
        };
  const metadata: PortkeyResponseMetadata = {};
  const traceId = get('x-portkey-trace-id');
  const provider = get('x-portkey-provider');
  const retries = get('x-portkey-retry-attempt-count');
  const cacheStatus = get('x-portkey-cache-status');
  const lastUsedOptionIndex = get('x-portkey-last-used-option-index');
  if (traceId) metadata.traceId = traceId;
  if (provider) metadata.provider = provider;
  if (retries !== null && retries !== '' && Number.isFinite(Number(retries))) metadata.retryAttemptCount = Number(retries);
  if (cacheStatus) metadata.cacheStatus = cacheStatus;
  if (lastUsedOptionIndex) metadata.lastUsedOptionIndex = lastUsedOptionIndex;
  return metadata;
}

/** `message` ending in the trace ID, once (moved to the end when a client wrote text after it). */
export function withTraceId(message: string, traceId: string | undefined): string {
  if (!traceId) return message;
  const suffix = ` [Portkey trace ID: ${traceId}]`;
  return message.endsWith(suffix) ? message : message.split(suffix).join('') + suffix;
}

/**
 * The request's headers with the call's Portkey headers set over them, `defaults` added where the
 * request has none of that name, and the client's placeholder key removed.
 */
function requestHeaders(given: ConstructorParameters<typeof Headers>[0], call: GatewayCall | undefined, defaults: Record<string, string> | undefined): Headers {
  const headers = given instanceof Headers ? given : new Headers(given);
  if (defaults) for (const [name, value] of Object.entries(defaults)) if (!headers.has(name)) headers.set(name, value);
  if (call) for (const name of Object.keys(call.headers)) headers.set(name, call.headers[name]!);
  if (headers.get('authorization') === PLACEHOLDER_AUTHORIZATION) headers.delete('authorization');
  return headers;
}

/**
 * Sends one gateway request through `baseFetch` with the call's headers. A failed response comes
 * back OpenAI-shaped (`{"error":{"message":…}}`, which every OpenAI-compatible client reads), its
 * message the gateway's own (the gateway's `{"status":"failure","message":…}` bodies read as
 * "(no body)" otherwise), ending in the trace ID, with the call's secrets redacted.
 *
 * @param defaultHeaders - headers the client configuration adds (kept out of the client's config).
 */
export function sendToGateway(
  baseFetch: typeof fetch,
  input: Parameters<typeof fetch>[0],
  init: RequestInit | undefined,
  call: GatewayCall | undefined,
  defaultHeaders?: Record<string, string>,
): Promise<Response> {
  const headers = requestHeaders(init?.headers, call, defaultHeaders);
  const recording = call?.ledger?.start(call.traceId, requestedModel(init?.body), call.secrets);
  const failed = (error: unknown): never => {
    recording?.failed(messageOf(error));
    throw error;
  };
  // Not async: one promise less per call, and nothing is awaited on the success path.
  let sent: Promise<Response>;
  try {
    sent = baseFetch(input, withFields(init, { headers }));
  } catch (error) {
    return failed(error);
  }
  return sent.then(
    (response) => {
      if (call) call.responseHeaders = response.headers;
      if (recording === undefined) return response.ok ? response : describedErrorResponse(response, call);
      const type = response.headers.get('content-type') ?? '';
      call!.portkey = readPortkeyResponseHeaders(response.headers);
      recording.responded(response.status, call!.portkey, type.includes('text/event-stream'));
      if (!response.ok) return describedErrorResponse(response, call, recording);
      if (!call!.answerRecorded) return recordedResponse(response, recording, type);
      call!.recording = recording;
      return response;
    },
    recording && failed,
  );
}

/** The model a request body asks for, when its JSON names it near the start (clients write it first). */
function requestedModel(body: unknown): string | undefined {
  if (typeof body !== 'string') return undefined;
  return /"model"\s*:\s*"([^"\\]{1,200})"/.exec(body.slice(0, 400))?.[1];
}

/** The gateway's message from an error body: OpenAI-shaped (`error.message`), Portkey's own, or text. */
function errorMessage(body: string): { message: string | undefined; openAIShaped: unknown } {
  let parsed: any;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { message: body.trim() ? body.trim().slice(0, 500) : undefined, openAIShaped: undefined };
  }
  if (parsed && typeof parsed === 'object' && parsed.error && typeof parsed.error === 'object') {
    return { message: typeof parsed.error.message === 'string' ? parsed.error.message : undefined, openAIShaped: parsed };
  }
  const message = parsed?.message ?? parsed?.['html-message'] ?? parsed?.error_message ?? parsed?.error;
  return { message: typeof message === 'string' && message ? `Portkey gateway: ${message}` : undefined, openAIShaped: undefined };
}

async function describedErrorResponse(response: Response, call: GatewayCall | undefined, recording?: CallRecording): Promise<Response> {
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    recording?.failed(`${response.status} ${response.statusText}`);
    throw error;
  }
  const { message, openAIShaped } = errorMessage(text);
  let body = text;
  if (message !== undefined || openAIShaped !== undefined) {
    const shaped = (openAIShaped ?? { error: { type: 'portkey_gateway_error' } }) as { error: Record<string, unknown> };
    if (message !== undefined) shaped.error.message = withTraceId(message, call?.traceId);
    body = JSON.stringify(shaped);
  }
  const secrets = call?.secrets?.();
  if (secrets?.length) body = redactSecrets(body, secrets);
  recording?.failed(`${response.status}: ${withTraceId(message ?? (response.statusText || 'error'), call?.traceId)}`);
  const headers = new Headers(response.headers);
  headers.delete('content-length');
  headers.delete('content-encoding');
  if (body !== text) headers.set('content-type', 'application/json');
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}
