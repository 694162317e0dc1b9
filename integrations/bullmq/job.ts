import { runWithPortkeyContext, tryGetPortkeyContext, type PortkeyContext } from '../../src/context.js';
import { describeType, PortkeyContextError } from '../../src/errors.js';
import { isPlainObject } from '../../src/headers.js';
import { capturePortkeyContext, type PortkeyContextSnapshot } from '../../src/propagation.js';
import { SECRET_PORTKEY_OPTIONS, urlSecrets } from '../../src/secrets.js';

/**
 * The key of a job's data under which {@link portkeyJob} stores the context: a
 * {@link PortkeyContextSnapshot} (trace ID, metadata, non-secret options), plain JSON.
 */
export const PORTKEY_JOB_KEY = '__portkey';

/**
 * The job's data with the Portkey context in force stored under {@link PORTKEY_JOB_KEY}: its trace
 * ID, its metadata resolved now (the signed-in user included) and its non-secret options. No key is
 * ever stored (no API key, virtual key, provider auth, config, AWS keys, nor a custom host with
 * credentials). Call it where the job is enqueued, inside the request: `queue.add(name, portkeyJob(data))`.
 *
 * Returns a shallow copy; `data` itself is not changed. Outside any context nothing is stored (a
 * `PORTKEY_JOB_KEY` the data already has is dropped): the worker then runs the job in a context of
 * its own (see {@link portkeyProcessor}).
 *
 * @param data - the job's data: an object (what BullMQ stores as JSON).
 * @throws {@link PortkeyContextError} `INVALID_OPTION` when `data` is not an object (an array, a
 *   string, `null`, a `Date`…): wrap it, `portkeyJob({ items })`.
 *
 * @example
 * ```ts
 * app.post('/summaries', async (req, res) => {
 *   const job = await queue.add('summarize', portkeyJob({ docId: req.body.docId }));
 *   res.status(202).json({ jobId: job.id });
 * });
 * ```
 */
export function portkeyJob<T extends object>(data: T): T {
  if (!isJobData(data)) {
    throw new PortkeyContextError(
      'INVALID_OPTION',
      `portkeyJob(data) takes the job's data as an object, got ${describeType(data)}: wrap it, portkeyJob({ value }).`,
    );
  }
  const { [PORTKEY_JOB_KEY]: _previous, ...rest } = data as Record<string, unknown>;
  const snapshot = capturePortkeyContext();
  if (snapshot !== undefined) rest[PORTKEY_JOB_KEY] = snapshot;
  return rest as T;
}

/** An object BullMQ stores as itself: not an array, not a value with its own `toJSON` (a `Date`). */
function isJobData(data: unknown): data is object {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return false;
  try {
    return typeof (data as { toJSON?: unknown }).toJSON !== 'function';
  } catch {
    return false; // a revoked or throwing Proxy
  }
}

/** What a job's stored context turned out to be. */
export type StoredContext =
  | { kind: 'none' }
  | { kind: 'valid'; context: PortkeyContext; stored: unknown }
  | { kind: 'invalid'; reason: string; stored: unknown };

const SNAPSHOT_FIELDS: ReadonlySet<string> = new Set(['traceId', 'metadata', 'options']);
/** Options a snapshot never holds: if stored ones do, they did not come from {@link portkeyJob}. */
const NEVER_STORED = [...SECRET_PORTKEY_OPTIONS, 'baseURL', 'traceId', 'metadata'];

/**
 * Reads the context {@link portkeyJob} stored in `data`, as a ready context (with `signal`, the
 * job's cancellation), or says why it cannot be used. Never throws.
 */
export function readStoredContext(data: unknown, signal: AbortSignal | undefined): StoredContext {
  if (!isPlainObject(data) || !Object.hasOwn(data, PORTKEY_JOB_KEY)) return { kind: 'none' };
  const stored = data[PORTKEY_JOB_KEY];
  const invalid = (reason: string): StoredContext => ({ kind: 'invalid', reason, stored });
  if (!isPlainObject(stored)) return invalid(`it is ${describeType(stored)}, not an object`);
  const fields = Object.keys(stored).filter((key) => SNAPSHOT_FIELDS.has(key)); // other fields: ignored
  const snapshot = Object.fromEntries(fields.map((key) => [key, stored[key]])) as Partial<PortkeyContextSnapshot>;
  if (snapshot.traceId === undefined) return invalid('it has no traceId');
  const options = snapshot.options;
  if (isPlainObject(options)) {
    const refused = NEVER_STORED.filter((key) => Object.hasOwn(options, key));
    if (refused.length > 0) return invalid(`its options hold ${refused.map((key) => `"${key}"`).join(', ')}, which portkeyJob() never stores`);
    if (urlSecrets(options.customHost).length > 0) return invalid('its customHost holds credentials, which portkeyJob() never stores');
    // Where the worker's calls go is the worker's own setting: a host read from Redis would receive
    // the worker's provider auth, so it is never applied.
    const { customHost: _ignored, ...rest } = options;
    snapshot.options = rest;
  }
  try {
    const init = { ...snapshot, ...(signal instanceof AbortSignal ? { signal } : {}) };
    const context = runWithPortkeyContext(init, () => tryGetPortkeyContext());
    if (context === undefined) return invalid('no context could be started from it'); // cannot happen
    return { kind: 'valid', context, stored };
  } catch (error) {
    // The core's messages never echo a value: safe to pass on.
    return invalid(error instanceof Error ? error.message : `it was refused (${describeType(error)})`);
  }
}
