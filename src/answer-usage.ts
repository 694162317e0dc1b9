/**
 * Reads what a gateway answer spent — the model and its `usage` — while the client reads the body,
 * without holding it back: a JSON answer's `usage`, or a streamed answer's last `usage` chunk (sent
 * when the request asked for `stream_options: { include_usage: true }`).
 */
import { messageOf } from './errors.js';
import type { AnswerUsage, CallRecording } from './usage-ledger.js';

/**
 * A streamed answer's end and usage are in its last event: this much of its tail is kept, enough for
 * a Responses API `response.completed` event, which repeats the whole answer.
 */
const STREAM_TAIL_BYTES = 1024 * 1024;
/** JSON answers larger than this are passed on without being read for usage. */
const JSON_MAX_BYTES = 4 * 1024 * 1024;

const count = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined);

/** The model and token counts of a chat completion, a Responses API answer or an embedding result. */
export function answerUsage(body: unknown): AnswerUsage | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { model, usage } = body as { model?: unknown; usage?: any };
  const out: AnswerUsage = {};
  if (typeof model === 'string' && model !== '') out.model = model;
  if (typeof usage === 'object' && usage !== null) {
    const input = count(usage.prompt_tokens ?? usage.input_tokens);
    const output = count(usage.completion_tokens ?? usage.output_tokens);
    const cached = count((usage.prompt_tokens_details ?? usage.input_tokens_details)?.cached_tokens);
    const total = count(usage.total_tokens);
    if (input !== undefined) out.inputTokens = input;
    if (output !== undefined) out.outputTokens = output;
    if (cached !== undefined) out.cachedInputTokens = cached;
    if (total !== undefined) out.totalTokens = total;
  }
  return out;
}

/**
 * The model and usage of a JSON answer's text, without parsing the whole answer: its `usage`
 * object (the last one: it ends an OpenAI-style answer) and its first `model`.
 */
export function jsonTextUsage(text: string): AnswerUsage | undefined {
  const model = /"model"\s*:\s*"([^"\\]{1,200})"/.exec(text)?.[1];
  const at = text.lastIndexOf('"usage"');
  let usage: unknown;
  const open = at < 0 ? -1 : text.indexOf('{', at);
  if (open >= 0 && /^"usage"\s*:\s*$/.test(text.slice(at, open))) {
    // Keys and numbers only: braces are not in strings here.
    let depth = 0;
    for (let i = open; i < text.length && i < open + 4096; i++) {
      const c = text.charCodeAt(i);
      if (c === 123) depth++;
      else if (c === 125 && --depth === 0) {
        usage = parsed(text.slice(open, i + 1));
        break;
      }
    }
  }
  if (model === undefined && usage === undefined) return undefined;
  return answerUsage({ model, usage });
}

function parsed(text: string): unknown {
  if (text.length > JSON_MAX_BYTES) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The usage of a streamed answer: its last `data:` event that has one (the model from the last that names one). */
export function eventStreamUsage(tail: string): AnswerUsage | undefined {
  const lines = tail.split('\n');
  let model: string | undefined;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (!line.startsWith('data:')) continue;
    const data = line.slice(5).trim();
    if (data === '[DONE]' || data === '') continue;
    const event = parsed(data) as { usage?: unknown; model?: unknown; response?: unknown } | undefined;
    // The Responses API nests the final answer: `{"type":"response.completed","response":{…usage}}`.
    const answer = (event?.usage === undefined && typeof event?.response === 'object' ? event.response : event) as object | undefined;
    const usage = answerUsage(answer);
    if (usage === undefined) continue;
    model ??= usage.model;
    if (usage.totalTokens !== undefined || usage.inputTokens !== undefined || usage.outputTokens !== undefined) {
      if (usage.model === undefined && model !== undefined) usage.model = model;
      return usage;
    }
  }
  return model === undefined ? undefined : { model };
}

/**
 * `response` (of content type `type`), reporting to `recording` as the client reads its body: the first chunk, the end with
 * the usage it found, or the failure (the body broke off, or the client cancelled it). Nothing is
 * read ahead of the client, and the response is the gateway's own.
 *
 * - A streamed answer's body reports per chunk: read with a reader (the `openai` SDK's way) or
 *   `for await`, the stream's own, observed; piped (`pipeThrough`: the AI SDK's way), through a
 *   stream that passes the bytes on.
 * - Any other answer's body-reading methods report when they settle: `json()` costs no second
 *   parse, and no stream is added.
 */
export function recordedResponse(response: Response, recording: CallRecording, type: string): Response {
  const body = response.body;
  if (body === null) {
    recording.finished(undefined);
    return response;
  }
  const web = body instanceof ReadableStream;
  if (type.includes('text/event-stream')) {
    // A custom fetch's own stream type (node-fetch's Node stream): left alone, recorded as answered.
    if (web) reportWhenIterated(body, recording);
    else recording.finished(undefined);
  } else {
    reportWhenRead(response, web ? body : undefined, type.includes('json'), recording);
  }
  return response;
}

/**
 * Whether the tail of a streamed answer shows it ended: `[DONE]`, a finish reason, the Responses
 * API's final events, or Anthropic's `message_stop` (a stream that stops short of them was cut).
 */
function streamEnded(tail: string): boolean {
  return (
    /data:\s*\[DONE\]/.test(tail) ||
    /"finish_reason"\s*:\s*"/.test(tail) ||
    /"type"\s*:\s*"(response\.(completed|incomplete|failed)|message_stop)"/.test(tail)
  );
}

/** What a body's chunks tell the recording: the first one, the usage in what is kept, the end. */
interface ChunkObserver {
  chunk(value: Uint8Array): void;
  /** The body ended. */
  done(): void;
  /** The body failed, or its reader stopped: a complete answer if it had reached its end marker. */
  stopped(reason: unknown): void;
}

function chunkObserver(stream: boolean, json: boolean, recording: CallRecording): ChunkObserver {
  const kept: Uint8Array[] = [];
  let keptBytes = 0;
  let first = true;
  const text = (): string => (kept.length === 0 ? '' : Buffer.concat(kept).toString('utf8'));
  const usage = (text: string): AnswerUsage | undefined => (text === '' ? undefined : stream ? eventStreamUsage(text) : jsonTextUsage(text));
  return {
    chunk(value) {
      if (first) {
        first = false;
        recording.firstChunk();
      }
      if (!stream && !json) return;
      kept.push(value);
      keptBytes += value.byteLength;
      if (stream) {
        while (kept.length > 1 && keptBytes - kept[0]!.byteLength >= STREAM_TAIL_BYTES) keptBytes -= kept.shift()!.byteLength;
      } else if (keptBytes > JSON_MAX_BYTES) {
        kept.length = 0;
        keptBytes = -Infinity; // too large: not read
      }
    },
    done() {
      const all = text();
      // A stream that ends cleanly but without its end marker was cut (ChatPortkey says STREAM_INCOMPLETE).
      if (stream && !streamEnded(all)) recording.failed('The streamed answer ended before its end (no [DONE] or finish reason).');
      else recording.finished(usage(all));
    },
    stopped(reason) {
      // Clients stop reading a stream at its end marker (`[DONE]`, or the Responses API's final
      // event) and cancel the rest: that is a complete answer.
      const tail = stream ? text() : '';
      if (stream && streamEnded(tail)) recording.finished(usage(tail));
      else recording.failed(`The answer was not read to its end: ${messageOf(reason ?? 'cancelled')}`);
    },
  };
}

const streamMethods = ReadableStream.prototype as unknown as Record<string | symbol, (...args: unknown[]) => any>;

/**
 * Makes a streamed body report as it is read, with no stream added where it can: a reader (the
 * `openai` SDK's) or `for await` observe each chunk they return, `cancel()` ends it; `pipeThrough`,
 * `pipeTo` and `tee` go through {@link observedBody}.
 */
function reportWhenIterated(body: ReadableStream<Uint8Array>, recording: CallRecording): void {
  const observer = chunkObserver(true, false, recording);
  const own = body as unknown as Record<string | symbol, unknown>;
  let observed: ReadableStream<Uint8Array> | undefined;
  const slow = (): ReadableStream<Uint8Array> => {
    observed ??= observedBody(body, observer);
    return observed;
  };
  for (const name of ['pipeThrough', 'pipeTo', 'tee'] as const) {
    own[name] = (...args: unknown[]) => streamMethods[name]!.apply(slow(), args);
  }
  own.cancel = (reason?: unknown) => {
    observer.stopped(reason);
    return streamMethods.cancel!.call(body, reason);
  };
  const observe = <R extends { done?: boolean; value?: Uint8Array | undefined }>(result: R): R => {
    if (result.done) observer.done();
    else observer.chunk(result.value!);
    return result;
  };
  const stopped = (error: unknown): never => {
    observer.stopped(error);
    throw error;
  };
  // A reader (the `openai` SDK's; a BYOB one too): the stream's own, its `read` and `cancel` observed.
  own.getReader = (options?: { mode?: string }) => {
    const reader = streamMethods.getReader!.call(body, options) as ReadableStreamDefaultReader<Uint8Array>;
    const { read, cancel } = reader as unknown as { read: (...a: unknown[]) => Promise<{ done: boolean; value?: Uint8Array }>; cancel: ReadableStreamDefaultReader['cancel'] };
    (reader as unknown as { read: unknown }).read = (...args: unknown[]) => read.apply(reader, args).then(observe, stopped);
    reader.cancel = (reason?: unknown) => {
      observer.stopped(reason);
      return cancel.call(reader, reason);
    };
    return reader;
  };
  own[Symbol.asyncIterator] = own.values = (options?: unknown) => {
    const inner = streamMethods.values!.call(body, options) as AsyncIterator<Uint8Array>;
    const iterator: AsyncIterableIterator<Uint8Array> = {
      next: () => inner.next().then(observe, stopped),
      return: (value?: unknown) => {
        observer.stopped(undefined);
        return inner.return ? inner.return(value) : Promise.resolve({ done: true as const, value: undefined });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  };
}

/** What a recorded response's reading methods report to, and how usage is read from what they return. */
interface ReadState {
  recording: CallRecording;
  json: boolean;
  /** The reporting stream `body` returned, and the response's own stream it reads. */
  observed?: ReadableStream<Uint8Array>;
  observedFrom?: ReadableStream<Uint8Array>;
}

const READ_STATE = Symbol('portkey-context.read-state');
type Readable = Response & { [READ_STATE]: ReadState };

const bytesUsage = (state: ReadState, value: ArrayBuffer | Uint8Array) =>
  state.json ? jsonTextUsage(Buffer.from(value instanceof Uint8Array ? value : new Uint8Array(value)).toString('utf8')) : undefined;

/** How each body-reading method's result tells the usage. */
const READ_USAGE: Record<string, (state: ReadState, value: any) => AnswerUsage | undefined> = {
  json: (_state, value) => answerUsage(value),
  text: (state, value: string) => (state.json ? jsonTextUsage(value) : undefined),
  arrayBuffer: bytesUsage,
  bytes: bytesUsage,
  blob: () => undefined,
  formData: () => undefined,
};

/**
 * The reading methods a recorded response gets as own properties: shared functions (nothing is
 * made per response) that call the prototype's and report what they read.
 */
const REPORTING_READS: Record<string, (this: Readable) => Promise<unknown>> = Object.fromEntries(
  Object.keys(READ_USAGE).map((name) => [
    name,
    function reportingRead(this: Readable) {
      const state = this[READ_STATE];
      const read = (Object.getPrototypeOf(this) as Record<string, () => Promise<unknown>>)[name]!;
      return read.call(this).then(
        (value) => {
          state.recording.finished(READ_USAGE[name]!(state, value));
          return value;
        },
        (error: unknown) => {
          state.recording.failed(messageOf(error));
          throw error;
        },
      );
    },
  ]),
);

/**
 * Makes `response`'s body-reading methods (and its `body`, when read as a web stream) report to
 * `recording`. `body` is `undefined` for a custom fetch's own stream type: left as it is.
 */
function reportWhenRead(response: Response, body: ReadableStream<Uint8Array> | undefined, json: boolean, recording: CallRecording): void {
  const own = response as unknown as Record<string | symbol, unknown>;
  own[READ_STATE] = { recording, json } satisfies ReadState;
  // Plain own properties over the prototype's methods: much cheaper than defineProperty.
  for (const name in REPORTING_READS) if (typeof own[name] === 'function') own[name] = REPORTING_READS[name];
  if (body === undefined) return;
  Object.defineProperty(response, 'body', REPORTING_BODY);
  // A copy reports too: whichever is read first ends the call.
  own.clone = reportingClone;
}

/**
 * `body` of a recorded response: a stream that reports, over the response's own stream as it is
 * now (`clone()` replaces it). Only taking it (`util.inspect`, `if (res.body)`) locks nothing:
 * `json()` and `text()` still work.
 */
const REPORTING_BODY: PropertyDescriptor = {
  configurable: true,
  get(this: Readable) {
    const current = ownBody(this) as ReadableStream<Uint8Array> | null;
    const state = this[READ_STATE];
    if (current === null || !(current instanceof ReadableStream)) return current;
    if (state.observedFrom !== current) {
      state.observedFrom = current;
      state.observed = observedBody(current, chunkObserver(false, state.json, state.recording));
    }
    return state.observed;
  },
};

/** The response's own `body` (its prototype's getter: the fetch's own Response class). */
function ownBody(response: Response): unknown {
  for (let proto = Object.getPrototypeOf(response); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const get = Object.getOwnPropertyDescriptor(proto, 'body')?.get;
    if (get !== undefined) return get.call(response);
  }
  return undefined;
}

function reportingClone(this: Readable): Response {
  const state = this[READ_STATE];
  const copy = (Object.getPrototypeOf(this) as { clone(this: Response): Response }).clone.call(this);
  const body = ownBody(copy);
  reportWhenRead(copy, body instanceof ReadableStream ? body : undefined, state.json, state.recording);
  return copy;
}

/**
 * `body`, passed through chunk by chunk, each chunk shown to `observer`. Nothing is pulled before
 * the client reads (`highWaterMark: 0`), so `body` is locked only then.
 */
function observedBody(body: ReadableStream<Uint8Array>, observer: ChunkObserver): ReadableStream<Uint8Array> {
  let locked: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const reader = (): ReadableStreamDefaultReader<Uint8Array> => {
    locked ??= streamMethods.getReader!.call(body) as ReadableStreamDefaultReader<Uint8Array>;
    return locked;
  };
  const source: ConstructorParameters<typeof ReadableStream<Uint8Array>>[0] & object = {
    pull(controller) {
      return reader()
        .read()
        .then(
          (result) => {
            if (result.done) {
              observer.done();
              controller.close();
              return;
            }
            observer.chunk(result.value);
            controller.enqueue(result.value);
          },
          (error: unknown) => {
            observer.stopped(error);
            controller.error(error);
          },
        );
    },
    cancel(reason) {
      observer.stopped(reason);
      return reader().cancel(reason);
    },
  };
  return new ReadableStream<Uint8Array>(source, { highWaterMark: 0 });
}
