// Per-call cost: ChatPortkey vs ChatOpenAI, side by side in one run, against the same local stub
// (no gateway, so only the client's work is measured). `npm run bench:calls`
//
// This process is pinned to CPU 0 and the stub to CPU 1 (when `taskset` is there). Each call runs
// inside a request context (as in an app); calls run one at a time, the two models' calls
// interleaved one by one (running one model's calls, then the other's, spread per-round ratios
// over 0.78-1.18 on this shared machine). Each round gives a ratio of CPU per call,
// ChatOpenAI / ChatPortkey (1.0 = same cost, < 1 = ChatPortkey costs more), for invoke and for
// stream, and the time to the first streamed chunk of each. Medians are reported. A third model,
// ChatOpenAI sending the same number and size of headers as fixed defaults, is the control: the
// ratio to it is ChatPortkey's own per-call work, without the cost of the header bytes themselves.
//
//   BENCH_ROUNDS=7 BENCH_CALLS=600 node bench/calls.mjs
import { execFileSync, fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ChatOpenAI } from '@langchain/openai';
import { runWithPortkeyContext } from 'portkey-context';
import { ChatPortkey } from 'portkey-context/langchain';

const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const calls = Number(process.env.BENCH_CALLS ?? 600);
const warmupCalls = Number(process.env.BENCH_WARMUP_CALLS ?? 300);

const canPin = (() => {
  if (availableParallelism() < 2) return false;
  try {
    execFileSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const stubOptions = { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] };
if (canPin) Object.assign(stubOptions, { execPath: 'taskset', execArgv: ['-c', '1', process.execPath] });
const stub = fork(fileURLToPath(new URL('./stub-llm.mjs', import.meta.url)), [], stubOptions);
const { port } = await new Promise((resolve) => stub.once('message', resolve));
const baseURL = `http://127.0.0.1:${port}/v1`;

/** What ChatPortkey sends on each call of this bench, as fixed headers: the cost of the bytes alone. */
const portkeyLikeHeaders = {
  'x-portkey-api-key': 'pk-bench',
  'x-portkey-provider': 'openai',
  'x-portkey-trace-id': 'bench-0000',
  'x-portkey-metadata': '{"_user":"user-00"}',
  'x-portkey-span-id': '00000000-0000-4000-8000-000000000000',
  'x-portkey-parent-span-id': 'bench-0000',
  'x-portkey-span-name': 'ChatPortkey',
};
const models = {
  ChatOpenAI: new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: 'sk-bench', maxRetries: 0, configuration: { baseURL } }),
  // Control: ChatOpenAI sending the same number and size of headers (fixed), so what is left
  // between it and ChatPortkey is ChatPortkey's own work per call.
  'ChatOpenAI+headers': new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: 'sk-bench', maxRetries: 0, configuration: { baseURL, defaultHeaders: portkeyLikeHeaders } }),
  ChatPortkey: new ChatPortkey({ model: 'gpt-4o-mini', apiKey: 'pk-bench', provider: 'openai', baseURL }),
};
const NAMES = Object.keys(models);
const inRequest = (i, fn) => runWithPortkeyContext({ traceId: `bench-${i}`, metadata: { _user: `user-${i % 50}` } }, fn);

/** One call, inside a request context: its CPU time (µs) and, for a stream, its time to the first chunk (ms). */
async function oneCall(model, kind, i) {
  let firstChunkMs = 0;
  const cpu = process.cpuUsage();
  await inRequest(i, async () => {
    if (kind === 'invoke') {
      await model.invoke('Hello');
      return;
    }
    const started = performance.now();
    let first = true;
    for await (const _chunk of await model.stream('Hello')) {
      if (first) {
        firstChunkMs = performance.now() - started;
        first = false;
      }
    }
  });
  const used = process.cpuUsage(cpu);
  return { cpu: used.user + used.system, firstChunkMs };
}

/**
 * One round: the two models' calls interleaved one by one (the order flipping every pair), so
 * whatever else the machine does lands on both alike. Returns CPU per call and mean first-chunk time.
 */
async function round(kind) {
  const totals = Object.fromEntries(NAMES.map((name) => [name, { cpu: 0, first: 0 }]));
  for (let i = 0; i < calls; i++) {
    // rotate the order, so no model always runs first (or right after another)
    for (let k = 0; k < NAMES.length; k++) {
      const name = NAMES[(i + k) % NAMES.length];
      const r = await oneCall(models[name], kind, i);
      totals[name].cpu += r.cpu;
      totals[name].first += r.firstChunkMs;
    }
  }
  return Object.fromEntries(Object.entries(totals).map(([name, t]) => [name, { cpuPerCall: t.cpu / calls, firstChunkMs: t.first / calls }]));
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

console.log(`${rounds} rounds of ${calls} calls per model and kind, alternated; ${canPin ? 'bench on CPU 0, stub on CPU 1' : 'no CPU pinning'}\n`);
for (const model of Object.values(models)) {
  for (const kind of ['invoke', 'stream']) for (let i = 0; i < warmupCalls; i++) await inRequest(i, () => (kind === 'invoke' ? model.invoke('warm') : model.stream('warm').then(async (s) => { for await (const _ of s); })));
}
for (const kind of ['invoke', 'stream']) {
  const ratios = [];
  const controlRatios = [];
  const perCall = Object.fromEntries(NAMES.map((name) => [name, []]));
  const firstChunk = Object.fromEntries(NAMES.map((name) => [name, []]));
  for (let n = 0; n < rounds; n++) {
    const r = await round(kind);
    ratios.push(r.ChatOpenAI.cpuPerCall / r.ChatPortkey.cpuPerCall);
    controlRatios.push(r['ChatOpenAI+headers'].cpuPerCall / r.ChatPortkey.cpuPerCall);
    for (const name of Object.keys(r)) {
      perCall[name].push(r[name].cpuPerCall);
      firstChunk[name].push(r[name].firstChunkMs);
    }
    console.log(
      `  ${kind} round ${n + 1}: ${NAMES.map((name) => `${name} ${r[name].cpuPerCall.toFixed(0)} µs`).join(', ')} CPU per call | ratio ${ratios.at(-1).toFixed(3)}, to the control ${controlRatios.at(-1).toFixed(3)}`,
    );
  }
  const first = kind === 'stream' ? `; first chunk ${NAMES.map((name) => `${name} ${median(firstChunk[name]).toFixed(3)} ms`).join(', ')}` : '';
  console.log(
    `RESULT ${kind}: CPU per call ${NAMES.map((name) => `${name} ${median(perCall[name]).toFixed(0)} µs`).join(', ')}; ` +
      `median ratio ChatOpenAI / ChatPortkey ${median(ratios).toFixed(3)}, ChatOpenAI+headers / ChatPortkey ${median(controlRatios).toFixed(3)}${first}\n`,
  );
}
stub.send('stop');
