import type { CallbackManagerForLLMRun } from '@langchain/core/callbacks/manager';
import type { RunnableConfig } from '@langchain/core/runnables';
import { AsyncLocalStorageProviderSingleton } from '@langchain/core/singletons';
import { generateTraceId, isValidTraceId } from '../../src/trace-id.js';

/**
 * Trace IDs for `ChatPortkey` calls made outside any Portkey context: one trace per top-level
 * LangChain run (a script's agent run, chain run, or bare model call), so Portkey shows the run as
 * one trace with its span tree instead of one trace per model call.
 *
 * LangChain carries run identity only in its callback run tree, which exists only when a callback
 * handler does (ChatPortkey forces none: it cost ~175 µs a call). Without one, nothing names the
 * top-level run, so the run is recognised by what LangChain hands down from it, most exact first:
 *
 * 1. **A tracer's root run.** With callbacks, a tracer among the handlers (LangSmith's, the one
 *    `streamEvents` adds, any `BaseTracer`) knows the root of the run tree: its ID is the trace ID.
 *    Asked only when the call has a parent run (a tracer that sees none knows no more than we do).
 * 2. **A LangGraph graph run** (`createAgent`, `StateGraph`, the functional API): LangGraph makes a
 *    `writer` (and, in newer versions, a `control`) per top-level graph run and hands the same one to
 *    every task of the run and of its subgraphs; a task's config says it is one
 *    (`configurable.__pregel_task_id`).
 * 3. **The config object of the run.** A top-level `invoke` / `stream` / `batch` element makes a
 *    fresh, empty `metadata` object (and `tags` array) for its run, and sequences, parallel
 *    branches and lambdas hand that same object down to their steps, callbacks or not
 *    (`ensureConfig` / `patchConfig` keep it by reference). Only an object first seen empty is
 *    trusted: one that arrives with keys may be the caller's, reused across runs; `tags` stands in
 *    when `metadata` is the caller's.
 * 4. Otherwise, with callbacks, the run the call was made from (its ID is the trace ID); else the
 *    call is its own run.
 *
 * Without a tracer, three shapes start a trace of their own (each copies what ties it to its run):
 * a model bound as a step of a chain (`bindTools`, `withConfig`, `withStructuredOutput`,
 * `withRetry` copy the config), a model or graph called inside a tool without the tool's config
 * (the tool hands down only LangChain's config keys, not the graph's `writer`), and a graph invoked
 * as a step of a chain (LangGraph copies the chain's config into a run of its own).
 *
 * Each way is sound: two top-level runs never share a trace (short of a caller passing one empty
 * `metadata` object or `tags` array, or one LangGraph `writer`, to several runs); where no way
 * applies, a call is its own trace — never worse than a trace per call. The ID is the root run's when LangChain knows it (a tracer, or a call with
 * callbacks that is itself the top-level run), otherwise a generated one bound to the scope object
 * (weakly: it goes with the run).
 */

/** Scope objects of runs seen so far (metadata objects, tags arrays, graph writers) → their trace ID. */
const traceOfScope = new WeakMap<object, string>();

/** What this module reads of a run config: LangChain's keys and LangGraph's additions. */
type RunConfigLike = RunnableConfig & { writer?: unknown; control?: unknown };

/**
 * The trace ID of a call made outside any Portkey context, from its run.
 *
 * @param config - the call's run config (as `ensureConfig` made it, ambient config merged in), if known.
 * @param callOptions - the call's options (LangGraph hands `writer` / `control` down as call options too).
 * @param runManager - the call's callback run, when LangChain has handlers.
 */
export function runTraceId(
  config: RunConfigLike | undefined,
  callOptions: object | undefined,
  runManager: CallbackManagerForLLMRun | undefined,
): string {
  const parentRunId = runManager?.parentRunId;
  if (parentRunId !== undefined) {
    const root = tracedRootRun(runManager!);
    if (root !== undefined) return root;
  }
  const runConfig = config ?? (AsyncLocalStorageProviderSingleton.getRunnableConfig() as RunConfigLike | undefined);
  const scope = graphRun(runConfig, callOptions as RunConfigLike | undefined) ?? runObject(runConfig?.metadata) ?? runObject(runConfig?.tags);
  // A call with callbacks and no parent run is, as far as LangChain knows, a top-level run itself.
  const ownRun = runManager !== undefined && parentRunId === undefined ? runManager.runId : undefined;
  if (scope === undefined) return parentRunId ?? ownRun ?? generateTraceId();
  let traceId = traceOfScope.get(scope);
  if (traceId === undefined) {
    traceId = ownRun ?? generateTraceId();
    traceOfScope.set(scope, traceId);
  }
  return traceId;
}

/** The root run's ID, from a tracer among the call's handlers that tracked the call or its parent. */
function tracedRootRun(runManager: CallbackManagerForLLMRun): string | undefined {
  for (const handler of runManager.handlers ?? []) {
    const getRunById = (handler as { getRunById?: (id: string) => { trace_id?: unknown } | undefined }).getRunById;
    if (typeof getRunById !== 'function') continue;
    try {
      const run = getRunById.call(handler, runManager.runId) ?? getRunById.call(handler, runManager.parentRunId!);
      if (isValidTraceId(run?.trace_id)) return run.trace_id;
    } catch {
      // a handler that only looks like a tracer: not an answer
    }
  }
  return undefined;
}

/** The object LangGraph makes once per top-level graph run, when the call runs in a graph task. */
function graphRun(config: RunConfigLike | undefined, callOptions: RunConfigLike | undefined): object | undefined {
  if (typeof config?.configurable?.__pregel_task_id !== 'string') return undefined;
  const writer = config.writer ?? callOptions?.writer;
  if (typeof writer === 'function') return writer;
  const control = config.control ?? callOptions?.control;
  return typeof control === 'object' && control !== null ? control : undefined;
}

/** A run's own config object: one already bound to a run, or one first seen empty (so made by LangChain for the run). */
function runObject(value: unknown): object | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (traceOfScope.has(value)) return value;
  if (Array.isArray(value) ? value.length === 0 : isEmptyRecord(value)) return value;
  return undefined;
}

function isEmptyRecord(value: object): boolean {
  for (const _ in value) return false;
  return true;
}
