/**
 * Reads what a gateway answer spent — the model and its `usage` — while the client reads the body,
 * without holding it back: a JSON answer's `usage`, or a streamed answer's last `usage` chunk (sent
 * when the request asked for `stream_options: { include_usage: true }`).
 */
import type { AnswerUsage, CallRecording } from './usage-ledger.js';

/** A streamed answer's usage chunk is among its last bytes: this much of the tail is kept. */
const STREAM_TAIL_BYTES = 16 * 1024;
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

function parsed(text: string): unknown {
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
 * `response` with a body that reports to `recording` as the client reads it: the first chunk, the
 * end with the usage it found, or the failure (the body broke off, or the client cancelled it).
 * Bytes pass through unchanged and at the client's pace.
 */
export function recordedResponse(response: Response, recording: CallRecording): Response {
  const body = response.body;
  if (body === null) {
    recording.finished(undefined);
    return response;
  }
  const stream = (response.headers.get('content-type') ?? '').includes('text/event-stream');
  const json = !stream && (response.headers.get('content-type') ?? '').includes('json');
  const reader = body.getReader();
  const kept: Uint8Array[] = [];
  let keptBytes = 0;
  let first = true;
  const keep = (chunk: Uint8Array): void => {
    if (!stream && !json) return;
    kept.push(chunk);
    keptBytes += chunk.byteLength;
    if (stream) {
      while (kept.length > 1 && keptBytes - kept[0]!.byteLength >= STREAM_TAIL_BYTES) keptBytes -= kept.shift()!.byteLength;
    } else if (keptBytes > JSON_MAX_BYTES) {
      kept.length = 0;
      keptBytes = -Infinity; // too large: not read
    }
  };
  const tail = (): string => (kept.length === 0 ? '' : Buffer.concat(kept).toString('utf8'));
  const usage = (text: string): AnswerUsage | undefined => (text === '' ? undefined : stream ? eventStreamUsage(text) : answerUsage(parsed(text)));
  const observed = new ReadableStream<Uint8Array>({
    pull(controller) {
      return reader.read().then(
        (result) => {
          if (result.done) {
            recording.finished(usage(tail()));
            controller.close();
            return;
          }
          if (first) {
            first = false;
            recording.firstChunk();
          }
          keep(result.value);
          controller.enqueue(result.value);
        },
        (error: unknown) => {
          recording.failed(error instanceof Error ? error.message : String(error));
          controller.error(error);
        },
      );
    },
    cancel(reason) {
      // Clients stop reading a stream at its end marker (`[DONE]`, or the Responses API's final
      // event, which carries the usage) and cancel the rest: that is a complete answer.
      const text = stream ? tail() : '';
      const found = usage(text);
      if (text.includes('data: [DONE]') || found?.totalTokens !== undefined || found?.inputTokens !== undefined) recording.finished(found);
      else recording.failed(`The answer was not read to its end: ${reason instanceof Error ? reason.message : String(reason ?? 'cancelled')}`);
      return reader.cancel(reason);
    },
  });
  return new Response(observed, { status: response.status, statusText: response.statusText, headers: response.headers });
}
