/**
 * ChatPortkey's retry policy. Retries happen here, around each attempt, instead of inside
 * LangChain's `maxConcurrency` queue: an attempt holds a queue slot only while it is in flight, so
 * a failing call never blocks other requests' calls while it waits to retry.
 */

import { portkeyErrorIn } from '../../src/errors.js';

/** Attempts after the first, unless `maxRetries` says otherwise. */
export const DEFAULT_MAX_RETRIES = 2;
/** Per-attempt deadline for the gateway to start answering, unless `timeout` says otherwise. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** First backoff; doubles with each retry, up to {@link MAX_BACKOFF_MS}, with ±25% jitter. */
export const INITIAL_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 8_000;
/** A `Retry-After` longer than this is not waited for: the error surfaces at once. */
export const MAX_RETRY_AFTER_MS = 10_000;

/** Statuses worth another attempt: timeouts, conflicts, rate limits and server errors. */
function retryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

function retryAfterMs(error: any): number | undefined {
  const headers = error?.headers;
  const value: unknown = typeof headers?.get === 'function' ? headers.get('retry-after') : headers?.['retry-after'];
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * Whether an error means the gateway could not be reached or dropped the connection (not one of
 * ours the gateway fetch threw, such as a refused redirect, which the client wrapped the same way).
 */
export function isConnectionError(error: unknown): boolean {
  const name = (error as any)?.constructor?.name;
  return (name === 'APIConnectionError' || (error instanceof Error && /^Connection error/.test(error.message))) && portkeyErrorIn(error) === undefined;
}

/** Whether an error is an attempt that ran out of time. */
export function isTimeoutError(error: unknown): boolean {
  const name = (error as any)?.constructor?.name;
  return name === 'APIConnectionTimeoutError' || (error instanceof Error && error.name === 'TimeoutError');
}

/**
 * How long to wait before the next attempt, or `undefined` when the error must surface now:
 * no retries left, a status that cannot succeed on retry (4xx but 408 / 409 / 429), a timeout (a
 * hung upstream rarely recovers, and retrying multiplies the wait), a `Retry-After` over
 * {@link MAX_RETRY_AFTER_MS}, or anything that is neither an HTTP status nor a connection error.
 *
 * @param error - what the attempt threw.
 * @param attempt - 0 for the first attempt.
 * @param maxRetries - attempts allowed after the first.
 */
export function retryDelay(error: unknown, attempt: number, maxRetries: number): number | undefined {
  if (attempt >= maxRetries) return undefined;
  const status = (error as any)?.status;
  if (typeof status === 'number') {
    if (!retryableStatus(status)) return undefined;
  } else if (!isConnectionError(error) || isTimeoutError(error)) {
    return undefined;
  }
  const backoff = Math.min(INITIAL_BACKOFF_MS * 2 ** attempt, MAX_BACKOFF_MS) * (0.75 + Math.random() / 2);
  const asked = retryAfterMs(error);
  if (asked === undefined) return backoff;
  return asked > MAX_RETRY_AFTER_MS ? undefined : Math.max(asked, backoff);
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('AbortError');
}

/** `promise`, or a rejection with the signal's reason as soon as `signal` aborts (the work itself is left to fail quietly). */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => undefined);
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Waits `ms`, or rejects with the signal's reason as soon as `signal` aborts (the timer is cleared). */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
