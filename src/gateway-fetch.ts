/**
 * One request to the gateway, whichever client sends it (`ChatPortkey`, `portkeyFetch()`, the
 * `openai` SDK, the Vercel AI SDK): the call's Portkey headers set over the client's at send time,
 * the client's placeholder key removed, error bodies that keep the gateway's message and the trace
 * ID and carry no secret, and the response headers kept for whoever asks what the gateway said.
 */
import { recordedResponse } from './answer-usage.js';
import { messageOf, PortkeyContextError } from './errors.js';
import { displayURL, redactSecrets } from './secrets.js';
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
 * What the `openai` SDK says about itself on every request: its
 * language and version, the OS, CPU architecture and Node version, the attempt and the timeout. The
 * gateway reads none of it and forwards none of it on chat completions (only `forwardHeaders`), so
 * it is not sent: ~230 bytes, and ~40–60k instructions of a ~740k fetch on Node 20 (README Performance).
 */
const SDK_SELF_DESCRIPTION = [
  'x-stainless-lang',
  'x-stainless-package-version',
  'x-stainless-os',
  'x-stainless-arch',
  'x-stainless-runtime',
  'x-stainless-runtime-version',
  'x-stainless-retry-count',
  'x-stainless-timeout',
] as const;

/**
 * The request's headers with the call's Portkey headers set over them, `defaults` added where the
 * request has none of that name, and the client's placeholder key and self-description removed.
 */
function requestHeaders(given: ConstructorParameters<typeof Headers>[0], call: GatewayCall | undefined, defaults: Record<string, string> | undefined): Headers {
  const headers = given instanceof Headers ? given : new Headers(given);
  if (defaults) for (const [name, value] of Object.entries(defaults)) if (!headers.has(name)) headers.set(name, value);
  if (call) for (const name of Object.keys(call.headers)) headers.set(name, call.headers[name]!);
  if (headers.get('authorization') === PLACEHOLDER_AUTHORIZATION) headers.delete('authorization');
  if (headers.has(SDK_SELF_DESCRIPTION[0])) for (const name of SDK_SELF_DESCRIPTION) headers.delete(name);
  return headers;
}

/** Whether a fetch sent with `redirect: 'error'` failed because the answer was a redirect. */
function isRefusedRedirect(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const cause = (error as { cause?: unknown }).cause;
  return /\bredirect\b/i.test(error.message) || (cause instanceof Error && /\bredirect\b/i.test(cause.message));
}

/** The error a redirect from the gateway fails its call with. */
function redirectError(input: Parameters<typeof fetch>[0], call: GatewayCall | undefined, cause: unknown): PortkeyContextError {
  const url = displayURL(input instanceof Request ? input.url : String(input));
  const message =
    `The Portkey gateway at ${url} answered with a redirect. Gateway calls never follow one: it would carry the call's ` +
    "Portkey keys to another address. Set baseURL (or PORTKEY_BASE_URL) to the address it redirects to, the gateway's own.";
  return new PortkeyContextError('GATEWAY_ERROR', withTraceId(message, call?.traceId), { cause, traceId: call?.traceId });
}

/**
 * Sends one gateway request through `baseFetch` with the call's headers. A failed response comes
 * back OpenAI-shaped (`{"error":{"message":…}}`, which every OpenAI-compatible client reads), its
 * message the gateway's own (the gateway's `{"status":"failure","message":…}` bodies read as
 * "(no body)" otherwise), ending in the trace ID, with the call's secrets redacted.
 *
 * A redirect is not followed (`redirect: 'error'`, unless the client's options set `redirect`): the
 * gateway does not redirect an API call, and following one would carry the call's Portkey keys to
 * whatever address it names (fetch drops only `Authorization` when a redirect leaves the origin).
 * The call fails with a {@link PortkeyContextError} `GATEWAY_ERROR` saying so, which clients that
 * wrap a failed fetch (the `openai` SDK's `APIConnectionError`) carry as their error's `cause`.
 * With `window: null` as well, Node's fetch sends the request as it is instead of a copy of it
 * (its headers copied, its body teed): 14–17% of the instructions Node 20's fetch spends on a request.
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
  const redirect = init?.redirect ?? 'error';
  const recording = call?.ledger?.start(call.traceId, requestedModel(init?.body), call.secrets);
  const failed = (error: unknown): never => {
    const thrown = redirect === 'error' && isRefusedRedirect(error) ? redirectError(input, call, error) : error;
    recording?.failed(messageOf(thrown));
    throw thrown;
  };
  // Not async: one promise less per call, and nothing is awaited on the success path.
  let sent: Promise<Response>;
  try {
    sent = baseFetch(input, withFields(init, { headers, redirect, window: null }));
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
    failed,
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
