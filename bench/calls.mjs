// Per-call cost: ChatPortkey vs ChatOpenAI, side by side in one run, against the same local stub
// (no gateway, so only the client's work is measured). Part of `npm run bench`; alone:
// `npm run bench:calls`.
//
// Each model lives in a process of its own, as it would in an app, all pinned to CPU 0, the stub to
// CPU 1 (when `taskset` is there): ChatOpenAI, a second ChatOpenAI (the A/A control: the same model
// twice, the noise floor of the run) and ChatPortkey. Every call runs inside a request context, one
// at a time. The processes take turns in short blocks of calls, one process busy at a time; the
// order of the three within a turn cycles through all six permutations, so each follows each other
// equally often. Each process measures its own CPU time over its block.
//
// Methods tried first and rejected on this shared 2-core machine, all with the three models in
// one process:
//   - calling one model 600 times, then the next: per-round ratios spread over 0.78-1.18;
//   - calls interleaved one by one in a fixed rotation: a same-headers control paid a steady 10%
//     it did not have;
//   - blocks of 10 in all six orders (this bench up to commit 2de469b): a model's cost depended on when it
//     warmed up. Of the two identical ChatOpenAI, the one warmed up first streamed 5-19% cheaper
//     than its twin (stream A/A 0.83-0.92 in five runs of one hour); with the warm-up order reversed
//     (ChatPortkey first), the three came within 2% of each other. An app holds one model; here
//     each process does too.
// And with a process per model, the three calling at the same time (3 s rounds): per-round A/A
// 0.90-1.13 (taking turns, the same hour: 0.90-1.10), and a first chunk that waited on the others'
// calls (9 ms against 2).
// With a process per model warmed up one after another, the first one forked (idle ~20 s while the
// others warmed up) was the dearest: invoke A/A 1.00-1.04 in six runs, and ChatPortkey forked first
// streamed at 0.950 where forked last it measured 1.005-1.058. Warmed up at the same time, the
// A/A came within 2.5% and ChatPortkey's ratio within 1.5% in either order.
//
// Each round gives, for invoke and for stream:
//   - the ratio of CPU per call, ChatOpenAI / ChatPortkey (1.0 = same cost, < 1 = ChatPortkey
//     costs more), the baseline being both ChatOpenAI processes together;
//   - the A/A ratio, ChatOpenAI / its twin;
//   - for a stream, the mean time to its first chunk.
// Medians over rounds are reported. Targets: ratio >= 0.98, and a first chunk no later than
// ChatOpenAI's + 0.1 ms. Each model first makes 1,500 calls of each kind: V8 goes on optimizing
// LangChain's, the openai client's and undici's code for the first ~2,000 calls (`--trace-opt`), and
// with 300 the first rounds charged that compiling to whichever block was running.
//
//   BENCH_ROUNDS=9 BENCH_CALLS=600 BENCH_BLOCK=10 node bench/calls.mjs
//   BENCH_CONTROL=1 node bench/calls.mjs    # adds ChatOpenAI sending the same x-portkey-* headers as fixed defaults
import { execFileSync, fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const rounds = Number(process.env.BENCH_ROUNDS ?? 9);
const calls = Number(process.env.BENCH_CALLS ?? 600);
const block = Number(process.env.BENCH_BLOCK ?? 10);
const warmupCalls = Number(process.env.BENCH_WARMUP_CALLS ?? 1500);
const TARGET = 0.98;
const FIRST_CHUNK_SLACK_MS = 0.1;
const KINDS = ['invoke', 'stream'];

if (process.argv[2] === 'model') await serveModel(process.argv[3], process.argv[4]);
else await main();

/** A model process: makes its model, warms it up, then runs the blocks of calls it is sent. */
async function serveModel(name, baseURL) {
  const { ChatOpenAI } = await import('@langchain/openai');
  const { runWithPortkeyContext } = await import('portkey-context');
  const { ChatPortkey } = await import('portkey-context/langchain');
  const openAI = (configuration = {}) =>
    new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: 'sk-bench', maxRetries: 0, configuration: { baseURL, ...configuration } });
  const makers = {
    ChatOpenAI: () => openAI(),
    'ChatOpenAI (A/A)': () => openAI(),
    ChatPortkey: () => new ChatPortkey({ model: 'gpt-4o-mini', apiKey: 'pk-bench', provider: 'openai', baseURL }),
    // What ChatPortkey sends on each call of this bench, as fixed headers: the cost of the bytes alone.
    'ChatOpenAI+headers': () =>
      openAI({
        defaultHeaders: {
          'x-portkey-api-key': 'pk-bench',
          'x-portkey-provider': 'openai',
          'x-portkey-trace-id': 'bench-0000',
          'x-portkey-metadata': '{"_user":"user-00"}',
          'x-portkey-span-id': '00000000-0000-4000-8000-000000000000',
          'x-portkey-parent-span-id': 'bench-0000',
          'x-portkey-span-name': 'ChatPortkey',
        },
      }),
  };
  const model = makers[name]();
  const inRequest = (i, fn) => runWithPortkeyContext({ traceId: `bench-${i}`, metadata: { _user: `user-${i % 50}` } }, fn);
  /** One call inside a request context; for a stream, resolves to its time to the first chunk (ms). */
  const oneCall = (kind, i) =>
    inRequest(i, async () => {
      if (kind === 'invoke') {
        await model.invoke('Hello');
        return 0;
      }
      const started = performance.now();
      let firstChunkMs = 0;
      for await (const _chunk of await model.stream('Hello')) {
        if (firstChunkMs === 0) firstChunkMs = performance.now() - started;
      }
      return firstChunkMs;
    });
  for (let i = 0; i < warmupCalls; i++) {
    await oneCall('invoke', i);
    await oneCall('stream', i);
  }
  process.on('message', async ({ kind, from, count }) => {
    if (kind === 'stop') return process.disconnect();
    let first = 0;
    const cpu = process.cpuUsage();
    for (let i = from; i < from + count; i++) first += await oneCall(kind, i);
    const used = process.cpuUsage(cpu);
    process.send({ cpu: used.user + used.system, first });
  });
  process.send('ready');
}

async function main() {
  const canPin = (() => {
    if (availableParallelism() < 2) return false;
    try {
      execFileSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  const self = fileURLToPath(import.meta.url);
  const stubOptions = { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] };
  if (canPin) Object.assign(stubOptions, { execPath: 'taskset', execArgv: ['-c', '1', process.execPath] });
  const stub = fork(fileURLToPath(new URL('./stub-llm.mjs', import.meta.url)), [], stubOptions);
  const { port } = await new Promise((resolve) => stub.once('message', resolve));
  const baseURL = `http://127.0.0.1:${port}/v1`;

  const NAMES = ['ChatOpenAI', 'ChatOpenAI (A/A)', 'ChatPortkey', ...(process.env.BENCH_CONTROL ? ['ChatOpenAI+headers'] : [])];
  // Model processes inherit this process's CPU (0). They warm up at the same time, so none sits idle
  // for long before it is measured: warmed up one after another, the first (idle the longest) came
  // out the dearest of the three.
  const models = {};
  let stopping = false;
  for (const name of NAMES) {
    const child = fork(self, ['model', name, baseURL], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('exit', (code) => {
      if (stopping) return;
      console.error(`The ${name} process exited (${code}) before the bench ended.`);
      process.exit(1);
    });
    models[name] = child;
  }
  await Promise.all(Object.values(models).map((child) => new Promise((resolve) => child.once('message', resolve))));
  /** Runs `count` calls of `kind` in `name`'s process; resolves to its CPU time (µs) and summed first-chunk times (ms). */
  const runBlock = (name, kind, from, count) =>
    new Promise((resolve) => {
      models[name].once('message', resolve);
      models[name].send({ kind, from, count });
    });

  /** Every order of `items`: each turn of a round takes the next, so every model follows every other alike. */
  const permutations = (items) =>
    items.length <= 1 ? [items] : items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
  const ORDERS = permutations(NAMES);

  /** One round: `calls` calls of each model, in blocks of `block`, the models' order changing every turn. */
  async function round(kind) {
    const totals = Object.fromEntries(NAMES.map((name) => [name, { cpu: 0, first: 0 }]));
    const turns = Math.ceil(calls / block);
    for (let turn = 0; turn < turns; turn++) {
      for (const name of ORDERS[turn % ORDERS.length]) {
        const { cpu, first } = await runBlock(name, kind, turn * block, block);
        totals[name].cpu += cpu;
        totals[name].first += first;
      }
    }
    const perModel = turns * block;
    return Object.fromEntries(NAMES.map((name) => [name, { cpuPerCall: totals[name].cpu / perModel, firstChunkMs: totals[name].first / perModel }]));
  }

  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const µs = (x) => `${x.toFixed(0)} µs`;

  console.log(
    `Per call: ${rounds} rounds of ${calls} calls per model and kind, in blocks of ${block}, one process per model; ${canPin ? 'models on CPU 0, stub on CPU 1' : 'no CPU pinning'}\n`,
  );
  let failed = false;
  for (const kind of KINDS) {
    const ratios = [];
    const aa = [];
    const perCall = Object.fromEntries(NAMES.map((name) => [name, []]));
    const firstChunk = Object.fromEntries(NAMES.map((name) => [name, []]));
    for (let n = 0; n < rounds; n++) {
      const r = await round(kind);
      const baseline = (r.ChatOpenAI.cpuPerCall + r['ChatOpenAI (A/A)'].cpuPerCall) / 2;
      ratios.push(baseline / r.ChatPortkey.cpuPerCall);
      aa.push(r.ChatOpenAI.cpuPerCall / r['ChatOpenAI (A/A)'].cpuPerCall);
      for (const name of NAMES) {
        perCall[name].push(r[name].cpuPerCall);
        firstChunk[name].push(r[name].firstChunkMs);
      }
      console.log(
        `  ${kind} round ${n + 1}: ${NAMES.map((name) => `${name} ${µs(r[name].cpuPerCall)}`).join(', ')} per call | ratio ${ratios.at(-1).toFixed(3)}, A/A ${aa.at(-1).toFixed(3)}`,
      );
    }
    const ratio = median(ratios);
    const ok = ratio >= TARGET;
    let line = `RESULT ${kind}: CPU per call ${NAMES.map((name) => `${name} ${µs(median(perCall[name]))}`).join(', ')}; median ratio ChatOpenAI / ChatPortkey ${ratio.toFixed(3)} (${ok ? `>= ${TARGET}: ok` : `< ${TARGET}: too slow`}), A/A ${median(aa).toFixed(3)}`;
    if (kind === 'stream') {
      const late = median(firstChunk.ChatPortkey) - (median(firstChunk.ChatOpenAI) + median(firstChunk['ChatOpenAI (A/A)'])) / 2;
      const early = late <= FIRST_CHUNK_SLACK_MS;
      line += `; first chunk ${NAMES.map((name) => `${name} ${median(firstChunk[name]).toFixed(3)} ms`).join(', ')} (ChatPortkey ${late >= 0 ? '+' : ''}${late.toFixed(3)} ms: ${early ? 'ok' : 'too late'})`;
      if (!early) failed = true;
    }
    if (!ok) failed = true;
    console.log(`${line}\n`);
  }
  stopping = true;
  for (const child of Object.values(models)) child.send({ kind: 'stop' });
  stub.send('stop');
  process.exitCode = failed ? 1 : 0;
}
