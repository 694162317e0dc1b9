import { PortkeyContextError } from './errors.js';

/**
 * The little of a response the disconnect signal needs: Node's `ServerResponse` (what Express and
 * Nest's middleware get on both platforms) has it.
 */
export interface ResponseLike {
  /** `true` once the whole response was handed to the OS. */
  readonly writableFinished: boolean;
  /** `true` once the response was destroyed (the client went away, or the app destroyed it). */
  readonly destroyed?: boolean;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * An `AbortSignal` that fires when the client goes away before `response` is complete: the
 * response closes without having finished. It never fires on normal completion, nor because the
 * request body was fully read (that closes the request, not the response).
 *
 * The reason it aborts with is a {@link PortkeyContextError} `CLIENT_DISCONNECTED` naming the trace ID.
 *
 * @param response - the response of the request being served.
 * @param traceId - the request's trace ID, for the abort reason.
 */
export function disconnectSignal(response: ResponseLike, traceId: string): AbortSignal {
  const controller = new AbortController();
  const abort = () =>
    controller.abort(
      new PortkeyContextError(
        'CLIENT_DISCONNECTED',
        `The client closed the connection before the response was complete, so the request's gateway calls were aborted. [Portkey trace ID: ${traceId}]`,
        { traceId },
      ),
    );
  if (response.writableFinished) return controller.signal;
  if (response.destroyed) abort();
  else
    response.once('close', () => {
      if (!response.writableFinished) abort();
    });
  return controller.signal;
}
