/**
 * How the gateway fetch reads a call's usage from the answer while the client reads it, with real
 * `Response`s and web streams (the gateway path is tested in test/usage): the Responses API's large
 * final event, Anthropic's end marker, a cancelled stream, a BYOB reader, a cloned JSON answer.
 */
import { expect, it } from 'vitest';
import { recordedResponse } from '../../src/answer-usage.js';
import { UsageLedger } from '../../src/usage-ledger.js';

const encoder = new TextEncoder();
const sse = (...events: unknown[]) =>
  new Response(
    new ReadableStream({
      type: 'bytes',
      start(controller) {
        for (const event of events) controller.enqueue(encoder.encode(typeof event === 'string' ? event : `data: ${JSON.stringify(event)}\n\n`));
        controller.close();
      },
    }),
    { headers: { 'content-type': 'text/event-stream' } },
  );

function recorded(response: Response) {
  const ledger = new UsageLedger();
  return { ledger, response: recordedResponse(response, ledger.start('t', undefined), response.headers.get('content-type') ?? '') };
}

it('a Responses API stream whose final event repeats a 60 KB answer: complete, with its usage', async () => {
  const output = 'x'.repeat(60_000);
  const { ledger, response } = recorded(
    sse(
      { type: 'response.output_text.delta', delta: 'x' },
      { type: 'response.completed', response: { model: 'gpt-4.1', output: [{ content: [{ text: output }] }], usage: { input_tokens: 9, output_tokens: 60, total_tokens: 69 } } },
    ),
  );
  for await (const _chunk of response.body!);
  expect(ledger.summary()).toMatchObject({ failed: 0, inFlight: 0, inputTokens: 9, outputTokens: 60, totalTokens: 69 });
});

it("an Anthropic-style stream ends at message_stop; one cut before any end marker is a failed call", async () => {
  const done = recorded(sse({ type: 'message_start' }, { type: 'content_block_delta' }, { type: 'message_stop' }));
  await done.response.text();
  expect(done.ledger.summary()).toMatchObject({ failed: 0, inFlight: 0 });
  const cut = recorded(sse({ choices: [{ delta: { content: 'a' }, finish_reason: null }] }));
  await cut.response.text();
  expect(cut.ledger.summary()).toMatchObject({ failed: 1, inFlight: 0 });
});

it('body.cancel() on a stream ends the call; a BYOB reader is observed like any reader', async () => {
  const cancelled = recorded(sse({ choices: [{ delta: { content: 'a' }, finish_reason: null }] }, 'data: [DONE]\n\n'));
  await cancelled.response.body!.cancel();
  expect(cancelled.ledger.summary()).toMatchObject({ calls: 1, inFlight: 0, failed: 1 });

  const byob = recorded(sse({ choices: [{ delta: {}, finish_reason: 'stop' }] }, { choices: [], usage: { prompt_tokens: 3, completion_tokens: 4 } }, 'data: [DONE]\n\n'));
  const reader = byob.response.body!.getReader({ mode: 'byob' });
  for (;;) {
    const { done } = await reader.read(new Uint8Array(64));
    if (done) break;
  }
  expect(byob.ledger.summary()).toMatchObject({ failed: 0, inFlight: 0, inputTokens: 3, outputTokens: 4, totalTokens: 7 });
});

it('a JSON answer: cloned, then either copy read, the call is recorded once; its body still reads after clone()', async () => {
  const json = () => new Response(JSON.stringify({ model: 'm', usage: { prompt_tokens: 2, completion_tokens: 1, total_tokens: 3 } }), { headers: { 'content-type': 'application/json' } });
  const first = recorded(json());
  const copy = first.response.clone();
  expect(((await copy.json()) as { model: string }).model).toBe('m');
  expect(await new Response(first.response.body).text()).toContain('"usage"');
  expect(first.ledger.summary()).toMatchObject({ calls: 1, failed: 0, inFlight: 0, totalTokens: 3 });
});
