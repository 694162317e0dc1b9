/**
 * Makes model errors say what happened — the gateway's status and message, what timed out, a cut
 * or malformed response, the gateway URL when it cannot be reached, the trace ID once — and never
 * show a key. Every error a ChatPortkey call throws passes through {@link describeCallError}.
 */
import { PortkeyContextError, portkeyErrorIn } from '../../src/errors.js';
import { withTraceId } from '../../src/gateway-fetch.js';
import { displayURL, redactSecrets } from '../../src/secrets.js';
import { isConnectionError, isTimeoutError } from './retry.js';

/** What a call's errors are described with. */
export interface CallErrorInfo {
  /** The gateway URL, named when it cannot be reached. */
  baseURL: string;
  /** The trace ID the call carried. */
  traceId: string | undefined;
  /** Values that must never appear in the error (keys, provider auth, credentials): made only when there is an error. */
  secrets: () => readonly string[];
  /** The per-attempt timeout in force, in ms. */
  timeoutMs: number | undefined;
  /** The call's abort signal: once it fired, its reason is the error. */
  signal: AbortSignal | undefined;
}

/** Errors already described: an error crossing several layers of one call is described once. */
const described = new WeakSet<object>();

/** The deepest useful reason in an error's cause chain: a system error code, else a message. */
function connectionCause(error: unknown): string | undefined {
  let cause: any = (error as any)?.cause;
  let reason: string | undefined;
  for (let depth = 0; cause && depth < 5; depth++) {
    if (typeof cause.code === 'string' && cause.code) return cause.code;
    if (typeof cause.message === 'string' && cause.message && cause.message !== 'fetch failed') reason = cause.message;
    cause = cause.cause;
  }
  return reason;
}

/**
 * Redacts every string an error carries — `message`, `stack`, the `openai` error body on `error`,
 * any other field, and the same on its `cause` chain — so no channel (`util.inspect`,
 * `JSON.stringify`, a tracer's `handleLLMError`) shows a secret. `Headers` objects are left alone.
 */
function scrub(value: unknown, secrets: readonly string[], seen: WeakSet<object>, depth: number): void {
  if (depth > 5 || typeof value !== 'object' || value === null || seen.has(value) || value instanceof Headers) return;
  seen.add(value);
  const keys = value instanceof Error ? Object.getOwnPropertyNames(value) : Object.keys(value);
  for (const key of keys) {
    let field: unknown;
    try {
      field = (value as Record<string, unknown>)[key];
    } catch {
      continue;
    }
    if (typeof field === 'string') {
      const clean = redactSecrets(field, secrets);
      if (clean !== field) {
        try {
          (value as Record<string, unknown>)[key] = clean;
        } catch {}
      }
    } else scrub(field, secrets, seen, depth + 1);
  }
}


/** Replaces the message at the head of `stack` (which V8 captured with the old message) by `message`. */
function restack(stack: string | undefined, oldMessage: string, name: string, message: string): string | undefined {
  if (typeof stack !== 'string') return stack;
  const at = stack.indexOf(oldMessage);
  if (at >= 0 && at < 200) return stack.slice(0, at) + message + stack.slice(at + oldMessage.length);
  const frames = stack.indexOf('\n    at ');
  return `${name}: ${message}${frames >= 0 ? stack.slice(frames) : ''}`;
}

/** `baseURL` with `/v1` appended to its path. */
function withV1(baseURL: string): string {
  const url = new URL(baseURL);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1`;
  return url.href;
}

function describeInPlace(error: Error, info: CallErrorInfo): Error {
  const status = (error as { status?: unknown }).status;
  let message = error.message;
  if (isConnectionError(error)) {
    const code = connectionCause(error);
    message = `Cannot reach the Portkey gateway at ${displayURL(info.baseURL)}${code ? ` (${code})` : ''}: is it running, and is baseURL (or PORTKEY_BASE_URL) right?`;
  } else if (status === 404 && !/\/v1\/?$/.test(new URL(info.baseURL).pathname)) {
    message =
      `404 The Portkey gateway at ${displayURL(info.baseURL)} has no /chat/completions: a Portkey baseURL ends in /v1 ` +
      `(${displayURL(withV1(info.baseURL))}). Fix baseURL or PORTKEY_BASE_URL.`;
  } else if (status === 431) {
    message =
      '431 The Portkey gateway refused the call: its request headers are too large (over ~16 KB in all). ' +
      'Metadata is capped at 4 KB; shrink the config or other x-portkey-* values.';
  }
  message = withTraceId(message, info.traceId); // secrets: scrubbed from message and stack after
  if (message !== error.message) {
    // Read the stack first: V8 formats it lazily, with the message current at the first read.
    const stack = error.stack;
    const old = error.message;
    error.message = message;
    error.stack = restack(stack, old, error.name, message);
  }
  return error;
}

/**
 * The error a ChatPortkey call throws for `error`: the abort reason once the call's signal fired
 * (`CLIENT_DISCONNECTED` when the client left); a {@link PortkeyContextError} `TIMEOUT` for an
 * attempt that ran out of time, `MALFORMED_RESPONSE` for a body that is not JSON / SSE; else the
 * error itself, rewritten in place (class, `status` and `headers` kept, so `instanceof` checks work),
 * with the trace ID once in `message` and `stack`, no key, and a `traceId` field.
 */
export function describeCallError(error: unknown, info: CallErrorInfo): unknown {
  let timeoutMs = info.timeoutMs;
  if (info.signal?.aborted) {
    const reason = info.signal.reason;
    if (!isTimeoutError(reason)) return reason instanceof Error ? reason : error;
    // the call's own `timeout` call option (LangChain turns it into a timeout signal)
    error = reason;
    timeoutMs = undefined;
  }
  if (!(error instanceof Error) || described.has(error)) return error;
  // One of ours the gateway fetch threw (a refused redirect), wrapped by the client: surfaces as itself.
  const thrown: Error = portkeyErrorIn(error) ?? error;
  if (described.has(thrown)) return thrown;
  const secrets = info.secrets();
  const gateway = displayURL(info.baseURL);
  let result: Error;
  if (isTimeoutError(error)) {
    result = new PortkeyContextError(
      'TIMEOUT',
      withTraceId(
        timeoutMs === undefined
          ? `The call to the Portkey gateway at ${gateway} ran out of time (its \`timeout\` call option).`
          : `No answer from the Portkey gateway at ${gateway} within ${timeoutMs} ms (the model's \`timeout\`, per attempt; timeouts are not retried): ` +
              'the provider behind it is slow or not answering. Raise `timeout` for long non-streamed generations.',
        info.traceId,
      ),
      { cause: error, traceId: info.traceId },
    );
  } else if (error instanceof SyntaxError) {
    result = new PortkeyContextError(
      'MALFORMED_RESPONSE',
      withTraceId(
        `The Portkey gateway at ${gateway} sent a body that is not valid JSON or server-sent events (${error.message.slice(0, 200)}).`,
        info.traceId,
      ),
      { cause: error, traceId: info.traceId },
    );
  } else {
    result = describeInPlace(thrown, info);
    if (info.traceId !== undefined) (result as { traceId?: string }).traceId = info.traceId;
  }
  scrub(result, secrets, new WeakSet(), 0);
  described.add(result);
  return result;
}

/**
 * The error for a stream that ended without a finish reason: `STREAM_INCOMPLETE`, saying whether
 * anything arrived. The chunks already yielded stay delivered.
 */
export function incompleteStreamError(chunks: number, info: CallErrorInfo): PortkeyContextError {
  const what =
    chunks === 0
      ? 'The stream from the Portkey gateway ended before any content arrived (an empty stream)'
      : `The stream from the Portkey gateway ended after ${chunks} chunk${chunks === 1 ? '' : 's'} without a finish reason or [DONE]: the answer is cut (the provider's connection likely dropped)`;
  const error = new PortkeyContextError('STREAM_INCOMPLETE', withTraceId(`${what}.`, info.traceId), { traceId: info.traceId });
  described.add(error);
  return error;
}

/** The error for a 200 answer with no choices: `MALFORMED_RESPONSE`. */
export function emptyAnswerError(info: CallErrorInfo): PortkeyContextError {
  const error = new PortkeyContextError(
    'MALFORMED_RESPONSE',
    withTraceId(`The Portkey gateway at ${displayURL(info.baseURL)} answered 200 with no choices (an empty completion).`, info.traceId),
    { traceId: info.traceId },
  );
  described.add(error);
  return error;
}
