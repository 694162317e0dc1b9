/**
 * Makes model errors say what happened — the gateway's status and message, the trace ID, the
 * gateway URL when it cannot be reached — and never show a key.
 */

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

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return out;
}

/**
 * Rewrites an error thrown by a gateway call in place (keeping its class, `status` and `headers`,
 * which LangChain's retry logic and callers rely on) and returns it.
 *
 * @param error - what the `openai` client / LangChain threw.
 * @param baseURL - the gateway URL, named when it cannot be reached.
 * @param traceId - the trace ID the call carried.
 * @param secrets - values that must never appear in the message (keys, provider auth).
 */
export function describeGatewayError(error: unknown, baseURL: string, traceId: string | undefined, secrets: readonly string[]): unknown {
  if (!(error instanceof Error)) return error;
  const original = error.message;
  let message = original;
  const name = error.constructor?.name ?? error.name;
  if (name === 'APIConnectionError' || /^Connection error/.test(original)) {
    const code = connectionCause(error);
    message = `Cannot reach the Portkey gateway at ${baseURL}${code ? ` (${code})` : ''}: is it running, and is baseURL (or PORTKEY_BASE_URL) right?`;
  } else if (name === 'APIConnectionTimeoutError' || error.name === 'TimeoutError') {
    message = `The Portkey gateway at ${baseURL} did not answer in time (${original}).`;
  }
  if (traceId && !message.includes(traceId)) message = `${message} [Portkey trace ID: ${traceId}]`;
  message = redact(message, secrets);
  if (message !== original) {
    error.message = message;
    if (typeof error.stack === 'string') {
      const stack = error.stack.includes(original) ? error.stack.replace(original, message) : error.stack;
      error.stack = redact(stack, secrets);
    }
  }
  return error;
}
