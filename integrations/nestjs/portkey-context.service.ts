import { Injectable } from '@nestjs/common';
import { type PortkeyContext, withPortkeyOverrides } from '../../src/context.js';
import type { PortkeyMetadataRecord, PortkeyOptions } from '../../src/options.js';
import type { PortkeyUsageSummary } from '../../src/usage-ledger.js';
import { requirePortkeyContext } from './require-context.js';

/**
 * The Portkey context of the request being served, as an injectable: a singleton that reads the
 * request's context from `AsyncLocalStorage` each time it is asked, so it is safe in singletons and
 * costs nothing per request.
 *
 * Every getter and `headers()` throw outside a context; `run()` works everywhere.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class AskService {
 *   constructor(@Inject(PortkeyContextService) private readonly portkey: PortkeyContextService) {}
 *
 *   async ask(question: string) {
 *     const res = await fetch(`${baseURL}/chat/completions`, {
 *       method: 'POST',
 *       headers: { ...this.portkey.headers(), 'content-type': 'application/json' },
 *       body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: question }] }),
 *     });
 *     return { traceId: this.portkey.traceId, answer: await res.json() };
 *   }
 * }
 * ```
 */
@Injectable()
export class PortkeyContextService {
  /**
   * The context in force: the request's, or the innermost `run()` scope.
   * @throws {@link PortkeyContextError} `NO_CONTEXT` outside a request.
   */
  get context(): PortkeyContext {
    return requirePortkeyContext();
  }

  /**
   * The trace ID every gateway call of this request carries (incoming, or generated).
   * @throws {@link PortkeyContextError} `NO_CONTEXT` outside a request.
   */
  get traceId(): string {
    return requirePortkeyContext().traceId;
  }

  /**
   * The metadata in force, resolved now: the user set by a guard is included once the guard ran.
   * @throws {@link PortkeyContextError} `NO_CONTEXT` outside a request.
   */
  get metadata(): PortkeyMetadataRecord {
    return requirePortkeyContext().metadata;
  }

  /**
   * Fires when the client disconnects before the response is complete (unless the module was given
   * `abortOnDisconnect: false`): pass it to any other client, `fetch(url, { signal })`.
   * `ChatPortkey` uses it without being told.
   * @throws {@link PortkeyContextError} `NO_CONTEXT` outside a request.
   */
  get signal(): AbortSignal | undefined {
    return requirePortkeyContext().signal;
  }

  /**
   * What the request's gateway calls spent so far: calls, tokens, cache hits, retries, latency,
   * each call (see "Usage per request" in the README).
   * @throws {@link PortkeyContextError} `NO_CONTEXT` outside a request.
   */
  get usage(): PortkeyUsageSummary {
    return requirePortkeyContext().usage;
  }

  /**
   * The `x-portkey-*` headers for a gateway call made now (module defaults < request trace ID and
   * metadata < `overrides`). Outside a request, use `portkeyHeaders()` from `portkey-context`,
   * which does not throw.
   *
   * @param overrides - per-call options; `metadata` is merged over the request's.
   * @returns header names to string values, ready for `fetch` or the `openai` client.
   * @throws {@link PortkeyContextError} `NO_CONTEXT` outside a request; `INVALID_HEADER_VALUE` for a bad override.
   */
  headers(overrides?: PortkeyOptions): Record<string, string> {
    return requirePortkeyContext().headers(overrides);
  }

  /**
   * Runs `fn` in a nested scope whose options replace the current ones field by field, with
   * `metadata` merged over the request's (same as `withPortkeyOverrides`). Outside a request it
   * starts a new context.
   *
   * @param overrides - the options of the scope.
   * @param fn - the work to run; what it awaits stays in the scope.
   * @returns what `fn` returns.
   * @throws {@link PortkeyContextError} `INVALID_HEADER_VALUE` when an override cannot be a header.
   *
   * @example
   * ```ts
   * await this.portkey.run({ metadata: { feature: 'summary' } }, () => this.summarize(text));
   * ```
   */
  run<R>(overrides: PortkeyOptions, fn: () => R): R {
    return withPortkeyOverrides(overrides, fn);
  }
}
