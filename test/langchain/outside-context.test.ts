/**
 * ChatPortkey outside any Portkey context (a script, a cron job): the calls of one top-level
 * LangChain run share one trace ID — agents, graphs, sequences, batches — with and without callback
 * handlers; two runs never share one; a context still wins; `traceRuns: false` sends none.
 * Everything through the real gateway; what reached it is read at the recording proxy.
 */
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import { StringOutputParser } from '@langchain/core/output_parsers';
import { ChatPromptTemplate } from '@langchain/core/prompts';
import { RunnableLambda, RunnableSequence } from '@langchain/core/runnables';
import { tool } from '@langchain/core/tools';
import { createAgent } from 'langchain';
import { beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runWithPortkeyContext } from 'portkey-context';
import { ChatPortkey, portkeyResponseMetadata } from 'portkey-context/langchain';
import type { RecordedGatewayRequest } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';
import { recordPortkeyWarnings } from '../harness/warnings.js';
import { toolUsingModel } from './scripted-replies.js';

const stack = useGatewayStack();
const warnings = recordPortkeyWarnings();
beforeEach(() => {
  stack.stub.script(toolUsingModel);
});

function makeModel(extra: Record<string, unknown> = {}) {
  return new ChatPortkey({ model: 'gpt-4o-mini', apiKey: 'pk-model-key', baseURL: stack.baseURL, ...stack.providerOptions, maxRetries: 0, ...extra });
}
const header = (r: RecordedGatewayRequest, name: string) => r.headers[name] as string | undefined;
const traceOf = (r: RecordedGatewayRequest) => header(r, 'x-portkey-trace-id');
/** The first user message of a request: which run sent it. */
const runOf = (r: RecordedGatewayRequest) => String(r.body.messages.find((m: { role: string }) => m.role === 'user')?.content);
/** Requests grouped by the run that sent them (its first user message). */
function byRun(requests: RecordedGatewayRequest[]): Map<string, RecordedGatewayRequest[]> {
  const runs = new Map<string, RecordedGatewayRequest[]>();
  for (const r of requests) runs.set(runOf(r), [...(runs.get(runOf(r)) ?? []), r]);
  return runs;
}
/** The one trace ID every request of a run carries (fails if they differ). */
function oneTrace(requests: RecordedGatewayRequest[]): string {
  const traces = new Set(requests.map(traceOf));
  expect(traces.size, `trace IDs of one run: ${[...traces].join(', ')}`).toBe(1);
  const [trace] = traces;
  expect(trace).toBeTypeOf('string');
  return trace!;
}
const GENERATED = /^[0-9a-f]{32}$/;
const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const weather = tool(async ({ city }: { city: string }) => `sunny in ${city}`, {
  name: 'get_weather',
  description: 'Weather for a city',
  schema: z.object({ city: z.string() }),
});

/** A plain callback handler (not a tracer): records chain and chat model runs. */
class Recorder extends BaseCallbackHandler {
  name = 'recorder';
  runs: { kind: 'chain' | 'llm'; name?: string; runId: string; parentRunId?: string }[] = [];
  // LangChain calls it as (chain, inputs, runId, parentRunId, tags, metadata, runType, runName), whatever its type says
  override handleChainStart(...args: any[]) {
    this.runs.push({ kind: 'chain', runId: args[2], parentRunId: args[3], name: args[7] });
  }
  override handleChatModelStart(_llm: unknown, _messages: unknown, runId: string, parentRunId?: string) {
    this.runs.push({ kind: 'llm', runId, parentRunId });
  }
  get llmRuns() {
    return this.runs.filter((r) => r.kind === 'llm');
  }
  get root() {
    return this.runs.find((r) => r.parentRunId === undefined);
  }
}

describe('outside any context: one trace per top-level LangChain run', () => {
  it('createAgent in a plain async function: one trace per agent run, a different one for a concurrent run, spans under the agent steps', async () => {
    const agent = createAgent({ model: makeModel(), tools: [weather] });
    const run = async (question: string) => agent.invoke({ messages: [{ role: 'user', content: question }] });
    const [a, b] = await Promise.all([run('weather in A? [slow:30]'), run('weather in B? [slow:10]')]);
    expect(String(a.messages.at(-1)!.content)).toBe('final answer after tool: sunny in Paris');

    expect(stack.gatewayRequests).toHaveLength(4);
    const runs = byRun(stack.gatewayRequests);
    const runA = runs.get('weather in A? [slow:30]')!;
    const runB = runs.get('weather in B? [slow:10]')!;
    expect(runA).toHaveLength(2);
    expect(runB).toHaveLength(2);
    const traceA = oneTrace(runA);
    const traceB = oneTrace(runB);
    expect(traceA).not.toBe(traceB);
    expect(traceA).toMatch(GENERATED); // no callbacks: LangChain names no run, so one is made for it
    // the answer says which trace it went to
    const tracesReported = (result: typeof a) => result.messages.filter((m) => m.type === 'ai').map((m) => portkeyResponseMetadata(m)?.traceId);
    expect(tracesReported(a)).toEqual([traceA, traceA]);
    expect(tracesReported(b)).toEqual([traceB, traceB]);

    for (const sent of [...runA, ...runB]) {
      expect(header(sent, 'x-portkey-span-id')).toMatch(RUN_ID);
      // without callbacks the parent is the agent step (the LangGraph task) that made the call
      expect(header(sent, 'x-portkey-parent-span-id')).toMatch(RUN_ID);
      expect(header(sent, 'x-portkey-metadata')).toBeUndefined(); // no user outside a context
    }
    expect(new Set(stack.gatewayRequests.map((r) => header(r, 'x-portkey-span-id'))).size).toBe(4);
    expect(header(runA[0]!, 'x-portkey-parent-span-id')).not.toBe(header(runA[1]!, 'x-portkey-parent-span-id'));
  });

  it('createAgent with a callback handler: one trace per run; span = the model run, parent = the agent step run', async () => {
    const agent = createAgent({ model: makeModel(), tools: [weather] });
    const recorders = [new Recorder(), new Recorder()];
    await Promise.all(
      ['agent one?', 'agent two?'].map((question, i) => agent.invoke({ messages: [{ role: 'user', content: question }] }, { callbacks: [recorders[i]!] })),
    );
    const runs = byRun(stack.gatewayRequests);
    const traces = ['agent one?', 'agent two?'].map((question, i) => {
      const sent = runs.get(question)!;
      expect(sent).toHaveLength(2);
      const recorder = recorders[i]!;
      expect(recorder.llmRuns).toHaveLength(2);
      sent.forEach((r, j) => {
        expect(header(r, 'x-portkey-span-id')).toBe(recorder.llmRuns[j]!.runId);
        expect(header(r, 'x-portkey-parent-span-id')).toBe(recorder.llmRuns[j]!.parentRunId);
        expect(recorder.runs.find((run) => run.runId === recorder.llmRuns[j]!.parentRunId)?.name).toBe('model_request');
      });
      return oneTrace(sent);
    });
    expect(traces[0]).not.toBe(traces[1]);
  });

  it('agent.stream (values, and messages mode, which adds a handler): one trace per run', async () => {
    const agent = createAgent({ model: makeModel(), tools: [weather] });
    await Promise.all(
      (['values', 'messages'] as const).map(async (streamMode) => {
        for await (const _ of await agent.stream({ messages: [{ role: 'user', content: `streamed ${streamMode}` }] }, { streamMode }));
      }),
    );
    const runs = byRun(stack.gatewayRequests);
    const [values, messages] = [runs.get('streamed values')!, runs.get('streamed messages')!];
    expect(values).toHaveLength(2);
    expect(messages).toHaveLength(2);
    expect(oneTrace(values)).not.toBe(oneTrace(messages));
  });

  it("with a tracer (streamEvents), the trace ID is the root run's ID", async () => {
    const agent = createAgent({ model: makeModel(), tools: [weather] });
    let root: string | undefined; // the first run to start is the agent's, the root of the run tree
    for await (const event of agent.streamEvents({ messages: [{ role: 'user', content: 'streamed agent?' }] }, { version: 'v2' })) {
      if (root === undefined && event.event === 'on_chain_start') root = event.run_id;
    }
    expect(root).toMatch(RUN_ID);
    expect(stack.gatewayRequests).toHaveLength(2);
    expect(oneTrace(stack.gatewayRequests)).toBe(root);
  });

  it('a model called inside a tool joins the agent run when the tool passes its config on', async () => {
    const inner = makeModel();
    const lookup = tool(async ({ city }: { city: string }, config) => `looked up: ${(await inner.invoke(`about ${city}`, config)).content}`, {
      name: 'lookup',
      description: 'Looks a city up',
      schema: z.object({ city: z.string() }),
    });
    const agent = createAgent({ model: makeModel(), tools: [lookup] });
    await agent.invoke({ messages: [{ role: 'user', content: 'look Paris up' }] });
    expect(stack.gatewayRequests).toHaveLength(3);
    expect(runOf(stack.gatewayRequests[1]!)).toBe('about Paris');
    expect(oneTrace(stack.gatewayRequests)).toMatch(GENERATED);
  });

  it('a bare model.invoke() is its own run: two calls, two traces (with callbacks: the call run ID)', async () => {
    const model = makeModel();
    await model.invoke('first');
    await model.invoke('second');
    const [first, second] = stack.gatewayRequests;
    expect(traceOf(first!)).toMatch(GENERATED);
    expect(traceOf(second!)).toMatch(GENERATED);
    expect(traceOf(first!)).not.toBe(traceOf(second!));
    expect(header(first!, 'x-portkey-parent-span-id')).toBeUndefined();

    stack.reset();
    const recorder = new Recorder();
    await model.invoke('third', { callbacks: [recorder] });
    await model.invoke('fourth', { callbacks: [recorder] });
    const [third, fourth] = stack.gatewayRequests;
    expect(traceOf(third!)).toBe(recorder.llmRuns[0]!.runId);
    expect(traceOf(fourth!)).toBe(recorder.llmRuns[1]!.runId);
    expect(header(third!, 'x-portkey-span-id')).toBe(recorder.llmRuns[0]!.runId);
  });

  it('model.stream() and streamEvents on a bare model: a trace per call', async () => {
    const model = makeModel();
    for await (const _ of await model.stream('streamed one'));
    for await (const _ of await model.stream('streamed two'));
    for await (const _ of model.streamEvents('evented', { version: 'v2' }));
    const traces = stack.gatewayRequests.map(traceOf);
    expect(traces).toHaveLength(3);
    expect(new Set(traces).size).toBe(3);
    expect(traces.slice(0, 2).every((t) => GENERATED.test(t!))).toBe(true);
    expect(traces[2]).toMatch(RUN_ID); // streamEvents' tracer: the root run is the call itself
  });

  it('batch(): one trace per input (each is a top-level run)', async () => {
    const model = makeModel();
    await model.batch(['b1', 'b2', 'b3'], { maxConcurrency: 2 });
    expect(stack.gatewayRequests).toHaveLength(3);
    expect(new Set(stack.gatewayRequests.map(traceOf)).size).toBe(3);
    expect(stack.gatewayRequests.every((r) => GENERATED.test(traceOf(r)!))).toBe(true);
  });

  it('a RunnableSequence (prompt | model | parser | model): one trace per run, also in batch and stream', async () => {
    const model = makeModel();
    const chain = RunnableSequence.from([ChatPromptTemplate.fromTemplate('topic {topic}'), model, new StringOutputParser(), model]);
    await Promise.all([chain.invoke({ topic: 'one' }), chain.invoke({ topic: 'two' })]);
    expect(stack.gatewayRequests).toHaveLength(4);
    // the second call of a run answers the first (its user message is the first's answer)
    const traceOfTopic = (topic: string) =>
      oneTrace(stack.gatewayRequests.filter((r) => runOf(r) === `topic ${topic}` || runOf(r) === `echo: topic ${topic}`));
    expect(traceOfTopic('one')).not.toBe(traceOfTopic('two'));
    expect(traceOfTopic('one')).toMatch(GENERATED);

    stack.reset();
    await chain.batch([{ topic: 'three' }, { topic: 'four' }]);
    expect(stack.gatewayRequests).toHaveLength(4);
    expect(traceOfTopic('three')).not.toBe(traceOfTopic('four'));

    stack.reset();
    for await (const _ of await chain.stream({ topic: 'five' }));
    expect(stack.gatewayRequests).toHaveLength(2);
    oneTrace(stack.gatewayRequests);
  });

  it('a RunnableSequence with a callback handler: one trace per run, both calls parented to the sequence run', async () => {
    const model = makeModel();
    const chain = RunnableSequence.from([ChatPromptTemplate.fromTemplate('handled {topic}'), model, new StringOutputParser(), model]);
    const recorders = [new Recorder(), new Recorder()];
    await Promise.all(['x', 'y'].map((topic, i) => chain.invoke({ topic }, { callbacks: [recorders[i]!] })));
    const traces = ['x', 'y'].map((topic, i) => {
      const sent = stack.gatewayRequests.filter((r) => runOf(r).endsWith(`handled ${topic}`));
      expect(sent).toHaveLength(2);
      const root = recorders[i]!.root!;
      for (const r of sent) expect(header(r, 'x-portkey-parent-span-id')).toBe(root.runId);
      expect(sent.map((r) => header(r, 'x-portkey-span-id'))).toEqual(recorders[i]!.llmRuns.map((run) => run.runId));
      return oneTrace(sent);
    });
    expect(traces[0]).not.toBe(traces[1]);
  });

  it('a model called in a RunnableLambda without passing the config joins the run', async () => {
    const model = makeModel();
    const chain = RunnableSequence.from([
      ChatPromptTemplate.fromTemplate('lambda {topic}'),
      model,
      new StringOutputParser(),
      RunnableLambda.from(async (text: string) => (await model.invoke(`again: ${text}`)).content),
    ]);
    await chain.invoke({ topic: 'z' });
    expect(stack.gatewayRequests).toHaveLength(2);
    oneTrace(stack.gatewayRequests);
  });

  it('inside runWithPortkeyContext the context wins (unchanged)', async () => {
    const agent = createAgent({ model: makeModel(), tools: [weather] });
    const recorder = new Recorder();
    await runWithPortkeyContext({ traceId: 'job-42', metadata: { _user: 'cron' } }, async () => {
      await agent.invoke({ messages: [{ role: 'user', content: 'in a job' }] });
      await agent.invoke({ messages: [{ role: 'user', content: 'in a job, with callbacks' }] }, { callbacks: [recorder] });
    });
    expect(stack.gatewayRequests).toHaveLength(4);
    for (const sent of stack.gatewayRequests) {
      expect(traceOf(sent)).toBe('job-42');
      expect(JSON.parse(header(sent, 'x-portkey-metadata')!)._user).toBe('cron');
    }
  });

  it("a trace ID on the model or the call wins over the run's", async () => {
    const chain = RunnableSequence.from([ChatPromptTemplate.fromTemplate('named {topic}'), makeModel({ traceId: 'model-trace' })]);
    await chain.invoke({ topic: 'q' });
    await makeModel().invoke('per call', { portkey: { traceId: 'call-trace' } });
    expect(stack.gatewayRequests.map(traceOf)).toEqual(['model-trace', 'call-trace']);
  });

  it('traceRuns: false sends no trace ID outside a context (one Portkey trace per call)', async () => {
    const model = makeModel({ traceRuns: false });
    await model.invoke('untraced one');
    await RunnableSequence.from([ChatPromptTemplate.fromTemplate('untraced {topic}'), model, new StringOutputParser(), model]).invoke({ topic: 't' });
    await createAgent({ model, tools: [weather] }).invoke({ messages: [{ role: 'user', content: 'untraced agent' }] });
    expect(stack.gatewayRequests).toHaveLength(5);
    for (const sent of stack.gatewayRequests) {
      expect(traceOf(sent)).toBeUndefined();
      expect(header(sent, 'x-portkey-span-id')).toMatch(RUN_ID); // spans are still sent
    }
    await runWithPortkeyContext({ traceId: 'still-in-context' }, () => model.invoke('in context'));
    expect(traceOf(stack.gatewayRequests[5]!)).toBe('still-in-context');
    expect(() => makeModel({ traceRuns: 'yes' })).toThrow(/"traceRuns" must be a boolean/);
  });

  it('strict: true still refuses a call outside a context, before anything is sent', async () => {
    const model = makeModel({ strict: true });
    await expect(model.invoke('refused')).rejects.toMatchObject({ code: 'NO_CONTEXT' });
    expect(stack.gatewayRequests).toHaveLength(0);
  });

  it('warned once per process: the call carries no user, its trace is its run', async () => {
    await makeModel().invoke('one more');
    await new Promise((resolve) => setImmediate(resolve));
    const noContext = warnings.filter((w) => w.code === 'PORTKEY_NO_CONTEXT');
    expect(noContext).toHaveLength(1);
    expect(noContext[0]!.message).toMatch(/outside any Portkey context.*no user.*top-level LangChain run.*runWithPortkeyContext/);
  });
});
