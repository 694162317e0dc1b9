/**
 * What the gateway calls of one context (a request, a job) spent: one entry per request sent to
 * the gateway, whichever client sent it, and the running totals.
 */

import type { PortkeyResponseMetadata } from './gateway-fetch.js';
import { redactSecrets } from './secrets.js';

/** One request sent to the gateway, as the usage ledger recorded it. */
export interface PortkeyCallUsage {
  /** The trace ID the call carried. */
  traceId?: string;
  /** The model that answered (the response's `model`, else the request's). */
  model?: string;
  /** Whether the answer was streamed (server-sent events). */
  stream: boolean;
  /** HTTP status of the gateway's response; absent when none came (gateway unreachable, aborted). */
  status?: number;
  /** Prompt tokens (`usage.prompt_tokens`, or `input_tokens` of the Responses API). */
  inputTokens?: number;
  /** Completion tokens (`usage.completion_tokens` / `output_tokens`). */
  outputTokens?: number;
  /** Prompt tokens served from the provider's prompt cache (`prompt_tokens_details.cached_tokens`). */
  cachedInputTokens?: number;
  /** `usage.total_tokens`, else input + output. */
  totalTokens?: number;
  /** `x-portkey-cache-status`: `HIT`, `MISS`, `DISABLED`, … */
  cacheStatus?: string;
  /** Retries the gateway made (`x-portkey-retry-attempt-count`). A client's own re-send is an entry of its own. */
  retries: number;
  /** When the call was sent (`Date.now()`). */
  startedAt: number;
  /** Milliseconds from sending to the end of the answer (its last byte, or the failure). Absent while in flight. */
  latencyMs?: number;
  /** Streams: milliseconds from sending to the first chunk of the answer. */
  timeToFirstTokenMs?: number;
  /** Why the call failed (the gateway's message, without secrets), when it did. */
  error?: string;
}

/** The running totals of a context's gateway calls, with every call. */
export interface PortkeyUsageSummary {
  /** The tenant of the request, once resolved (`TenantRouting.id`). */
  tenant?: string;
  /** Requests sent to the gateway (finished or in flight). */
  calls: number;
  /** Calls that failed (an error status, no response, an aborted or cut answer). */
  failed: number;
  /** Calls still in flight. */
  inFlight: number;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  /** What `maxTokensPerRequest` counts. */
  totalTokens: number;
  /** Calls answered from Portkey's cache (`x-portkey-cache-status` `HIT` or `SEMANTIC HIT`). */
  cacheHits: number;
  /** Retries the gateway made, summed. */
  retries: number;
  /** Milliseconds of the finished calls, summed (overlapping calls count each). */
  latencyMs: number;
  /**
   * Each call, oldest first (copies): the last 1,000 of a context that made more (the totals
   * count every call; a long-running job's context does not grow without bound).
   */
  entries: PortkeyCallUsage[];
}

/** Token counts and model read from an answer's body. */
export interface AnswerUsage {
  model?: string;
  inputTokens?: number;
  outputTokens?: number;
  cachedInputTokens?: number;
  totalTokens?: number;
}

/** One call being recorded: the gateway fetch reports what happened to it. */
export interface CallRecording {
  /** The gateway answered (before the body): its status, what its headers said, and whether it streams. */
  responded(status: number, portkey: PortkeyResponseMetadata, stream: boolean): void;
  /** The first chunk of the body arrived. */
  firstChunk(): void;
  /** The body ended; `usage` what it said, if anything. */
  finished(usage: AnswerUsage | undefined): void;
  /** The call failed: no response, an error status, or the body broke off. Only the first end counts. */
  failed(message: string): void;
}

/** Entries a ledger keeps; its totals count every call. */
const MAX_ENTRIES = 1_000;

type Totals = Omit<PortkeyUsageSummary, 'tenant' | 'entries' | 'inFlight'>;

/** The ledger of one context. Shared by the context and its nested scopes. */
export class UsageLedger {
  readonly #entries: PortkeyCallUsage[] = [];
  readonly #totals: Totals = {
    calls: 0,
    failed: 0,
    inputTokens: 0,
    outputTokens: 0,
    cachedInputTokens: 0,
    totalTokens: 0,
    cacheHits: 0,
    retries: 0,
    latencyMs: 0,
  };
  #inFlight = 0;
  #waiters: (() => void)[] = [];
  /** The tenant's ID, once resolved (set by the context). */
  tenant: string | undefined;

  /** Tokens recorded so far (input + output of the finished calls). */
  get totalTokens(): number {
    return this.#totals.totalTokens;
  }

  /** Calls still in flight. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Calls finished so far (answered or failed). */
  get finished(): number {
    return this.#totals.calls - this.#inFlight;
  }

  /** Milliseconds of the finished calls, summed. */
  get latencyMs(): number {
    return Math.round(this.#totals.latencyMs * 10) / 10;
  }

  /**
   * Starts recording one request to the gateway.
   *
   * @param traceId - the trace ID the request carries.
   * @param model - the model the request asked for (replaced by the answer's).
   * @param secrets - values a failure's message must not show (made only if it fails).
   */
  start(traceId: string | undefined, model: string | undefined, secrets?: () => readonly string[]): CallRecording {
    const entry: PortkeyCallUsage = { stream: false, retries: 0, startedAt: Date.now() };
    if (traceId !== undefined) entry.traceId = traceId;
    if (model !== undefined) entry.model = model;
    if (this.#entries.push(entry) > MAX_ENTRIES) this.#entries.shift();
    this.#totals.calls++;
    this.#inFlight++;
    return new Recording(entry, secrets, this.#totals, this.#ended);
  }

  /** A recorded call ended (answered or failed): its figures are in the totals. */
  readonly #ended = (entry: PortkeyCallUsage): void => {
    const totals = this.#totals;
    totals.latencyMs += entry.latencyMs!;
    if (entry.error !== undefined) totals.failed++;
    if (entry.cacheStatus !== undefined && /HIT$/i.test(entry.cacheStatus)) totals.cacheHits++;
    totals.retries += entry.retries;
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#waiters.length > 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake();
    }
  };

  /** Resolves once no call is in flight (at once if none is). */
  settled(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** The totals now, and a copy of each entry kept. */
  summary(): PortkeyUsageSummary {
    const summary: PortkeyUsageSummary = { ...this.#totals, inFlight: this.#inFlight, entries: this.#entries.map((entry) => ({ ...entry })) };
    summary.latencyMs = Math.round(summary.latencyMs * 10) / 10;
    if (this.tenant !== undefined) summary.tenant = this.tenant;
    return summary;
  }
}

/** One request being recorded: one object per call (it is made on every gateway call). */
class Recording implements CallRecording {
  readonly #entry: PortkeyCallUsage;
  readonly #secrets: (() => readonly string[]) | undefined;
  readonly #totals: Totals;
  readonly #ended: (entry: PortkeyCallUsage) => void;
  readonly #started = performance.now();
  #open = true;

  constructor(entry: PortkeyCallUsage, secrets: (() => readonly string[]) | undefined, totals: Totals, ended: (entry: PortkeyCallUsage) => void) {
    this.#entry = entry;
    this.#secrets = secrets;
    this.#totals = totals;
    this.#ended = ended;
  }

  responded(status: number, portkey: PortkeyResponseMetadata, stream: boolean): void {
    const entry = this.#entry;
    entry.status = status;
    entry.stream = stream;
    if (portkey.cacheStatus !== undefined) entry.cacheStatus = portkey.cacheStatus;
    if (portkey.retryAttemptCount !== undefined && portkey.retryAttemptCount > 0) entry.retries = portkey.retryAttemptCount;
  }

  firstChunk(): void {
    if (this.#open && this.#entry.stream) this.#entry.timeToFirstTokenMs = this.#elapsed();
  }

  finished(usage: AnswerUsage | undefined): void {
    if (!this.#open) return;
    if (usage) {
      const entry = this.#entry;
      const totals = this.#totals;
      if (usage.model !== undefined) entry.model = usage.model;
      if (usage.inputTokens !== undefined) totals.inputTokens += entry.inputTokens = usage.inputTokens;
      if (usage.outputTokens !== undefined) totals.outputTokens += entry.outputTokens = usage.outputTokens;
      if (usage.cachedInputTokens !== undefined) totals.cachedInputTokens += entry.cachedInputTokens = usage.cachedInputTokens;
      if (usage.totalTokens !== undefined || usage.inputTokens !== undefined || usage.outputTokens !== undefined) {
        totals.totalTokens += entry.totalTokens = usage.totalTokens ?? (usage.inputTokens ?? 0) + (usage.outputTokens ?? 0);
      }
    }
    this.#end();
  }

  failed(message: string): void {
    if (!this.#open) return;
    this.#entry.error = this.#secrets === undefined ? message : redactSecrets(message, this.#secrets());
    this.#end();
  }

  #elapsed(): number {
    return Math.round((performance.now() - this.#started) * 10) / 10;
  }

  #end(): void {
    this.#open = false;
    this.#entry.latencyMs = this.#elapsed();
    this.#ended(this.#entry);
  }
}
