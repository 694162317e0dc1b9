// Work per call and per request in CPU instructions, counted by valgrind's callgrind: a measure
// that the machine's noise does not move. `npm run bench:instructions` (needs `valgrind`:
// `apt-get install valgrind`; ~25 minutes on a 2-core machine).
//
// Why: CPU time on a shared machine swings ±3-5% between rounds of the *same* code (the A/A rows of
// `npm run bench`), and a per-call cost of 1-2% cannot be told from that. Callgrind runs the process
// on a simulated CPU and counts every instruction it executes, in every thread: two runs of the same
// code differ by ~0.1%. Instructions are not time (a cache miss costs no instruction), so this
// complements the CPU-time benches; it does not replace them.
//
// How: each process runs under callgrind. After a long warm-up (V8 keeps compiling hot library
// code for the first ~1,000 calls), the workload runs in windows of calls (or requests), each
// model or server in turn, and `callgrind_control --dump` closes each window. Each window's
// instructions are split by function name into the JIT compiler's, the garbage collector's, and the
// rest: the work of the calls themselves. The compiler and the collector run when they run (one
// window gets a major GC, the next none), so the medians over windows of "the calls' own work"
// are compared, and the totals shown beside them.
//
//   - calls: ChatOpenAI, a second ChatOpenAI (A/A), ChatOpenAI sending ChatPortkey's seven
//     `x-portkey-*` headers as fixed defaults (what sending those headers costs by itself: the floor
//     of any client that sends them), and ChatPortkey; each call in a request context, against the
//     local stub; invoke and stream.
//   - requests: the Express hello-world of `bench/servers.mjs` with a bare `als.run` middleware,
//     twice (A/A), with `portkeyMiddleware()`, and with `portkeyMiddleware({ responseHeader: false })`.
//
//   BENCH_PARTS=calls node bench/instructions.mjs       # or requests
//   BENCH_WARMUP=1000 BENCH_WINDOW=100 BENCH_WINDOWS=5 node bench/instructions.mjs   # the defaults
import { execFile, execFileSync, fork } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The models compared per call, in their order in the report: the baseline first, then its twin. */
const CALL_MODELS = ['ChatOpenAI', 'ChatOpenAI (A/A)', 'ChatOpenAI + the same headers', 'ChatPortkey'];
const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const parts = (process.env.BENCH_PARTS ?? 'calls,requests').split(',');

// ---------------------------------------------------------------------------------------------
// The process measured for calls (runs under callgrind).

async function callsChild(kind) {
  const { ChatOpenAI } = await import('@langchain/openai');
  const { runWithPortkeyContext } = await import('portkey-context');
  const { ChatPortkey } = await import('portkey-context/langchain');
  const stub = fork(here('./stub-llm.mjs'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const { port } = await new Promise((resolve) => stub.once('message', resolve));
  const baseURL = `http://127.0.0.1:${port}/v1`;
  const openAI = (defaultHeaders) => new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: 'sk-bench', maxRetries: 0, configuration: { baseURL, defaultHeaders } });
  const models = {
    ChatOpenAI: openAI(),
    'ChatOpenAI (A/A)': openAI(),
    // What ChatPortkey sends on each call of this bench, as fixed headers: the cost of sending them.
    'ChatOpenAI + the same headers': openAI({
      'x-portkey-api-key': 'pk-bench',
      'x-portkey-provider': 'openai',
      'x-portkey-trace-id': 'bench-0000',
      'x-portkey-metadata': '{"_user":"user-00"}',
      'x-portkey-span-id': '00000000-0000-4000-8000-000000000000',
      'x-portkey-parent-span-id': 'bench-0000',
      'x-portkey-span-name': 'ChatPortkey',
    }),
    ChatPortkey: new ChatPortkey({ model: 'gpt-4o-mini', apiKey: 'pk-bench', provider: 'openai', baseURL }),
  };
  const names = Object.keys(models);
  if (names.join() !== CALL_MODELS.join()) throw new Error('CALL_MODELS is out of date');
  const call = (model, i) =>
    runWithPortkeyContext({ traceId: `bench-${i}`, metadata: { _user: `user-${i % 50}` } }, async () => {
      if (kind === 'invoke') await model.invoke('Hello');
      else for await (const _chunk of await model.stream('Hello'));
    });
  const { warmup, window, windows } = settings();
  let i = 0;
  for (let n = 0; n < warmup; n++) for (const name of names) await call(models[name], i++);
  await dump(process.pid, 'warm-up');
  for (let w = 0; w < windows; w++) {
    // Each model follows each other alike over the windows (the order turns by one each time).
    for (const name of rotate(names, w)) {
      for (let n = 0; n < window; n++) await call(models[name], i++);
      await dump(process.pid, `w${w}-m${names.indexOf(name)}`);
    }
  }
  stub.send('stop');
}

// ---------------------------------------------------------------------------------------------
// The driver.

/** Calls per model before the first window, calls per window, windows per model; requests: ten times as many (a request is ~5x cheaper). */
function settings() {
  return {
    warmup: Number(process.env.BENCH_WARMUP ?? 1000),
    window: Number(process.env.BENCH_WINDOW ?? 100),
    windows: Number(process.env.BENCH_WINDOWS ?? 5),
  };
}

function rotate(items, by) {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** Closes a window: callgrind writes the counts since the last dump to a file of their own, labelled. */
function dump(pid, label) {
  return new Promise((resolve, reject) => execFile('callgrind_control', ['--dump', label, String(pid)], (error) => (error ? reject(error) : resolve())));
}

/** `valgrind --tool=callgrind … node <args>`, its dumps written in `dir`. */
function underCallgrind(dir, script, args, options = {}) {
  mkdirSync(dir, { recursive: true });
  return fork(script, args, {
    ...options,
    execPath: 'valgrind',
    execArgv: ['--tool=callgrind', '-q', `--callgrind-out-file=${join(dir, 'callgrind.out')}`, process.execPath],
  });
}

async function main() {
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
  } catch {
    console.error('bench/instructions.mjs needs valgrind (apt-get install valgrind).');
    process.exit(1);
  }
  const root = join(tmpdir(), `portkey-instructions-${process.pid}`);
  const { warmup, window, windows } = settings();
  console.log(`Instructions (callgrind): ${warmup} warm-up calls or requests each, then ${windows} windows of ${window}, in turn\n`);
  const jobs = [];
  if (parts.includes('calls')) {
    for (const kind of ['invoke', 'stream']) {
      const dir = join(root, `calls-${kind}`);
      const child = underCallgrind(dir, fileURLToPath(import.meta.url), ['--calls', kind], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      jobs.push(exited(child).then(() => report(`per call, ${kind}`, readWindows(dir), window, CALL_MODELS)));
    }
  }
  // The calls' two processes take both cores; the servers are measured after them.
  const reports = await Promise.all(jobs);
  if (parts.includes('requests')) reports.push(await requests(join(root, 'requests')));
  for (const lines of reports) console.log(lines.join('\n') + '\n');
  rmSync(root, { recursive: true, force: true });
}

function exited(child) {
  return new Promise((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`measured process exited with ${code}`)))));
}

async function requests(dir) {
  const variants = ['express-als', 'express-als (A/A)', 'express-portkey', 'express-portkey-noheader'];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const { warmup, window, windows } = settings();
  const servers = [];
  for (const name of variants) {
    const child = underCallgrind(join(dir, name.replace(/\W+/g, '-')), here('./servers.mjs'), [name.split(' ')[0]], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const port = await new Promise((resolve) => child.on('message', (message) => message?.port && resolve(message.port)));
    servers.push({ name, child, port });
  }
  const get = (port, through = agent) =>
    new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/', agent: through }, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
  // Each server warms up on its own connection, all at once (each is one process on a simulated CPU).
  await Promise.all(
    servers.map(async (server) => {
      const own = new http.Agent({ keepAlive: true, maxSockets: 1 });
      for (let n = 0; n < warmup * 10; n++) await get(server.port, own);
      own.destroy();
      await dump(server.child.pid, 'warm-up');
    }),
  );
  for (let w = 0; w < windows; w++) {
    for (const server of rotate(servers, w)) {
      for (let n = 0; n < window * 10; n++) await get(server.port);
      await dump(server.child.pid, `w${w}-m${servers.indexOf(server)}`);
    }
  }
  agent.destroy();
  await Promise.all(
    servers.map(({ child }) => {
      const stopped = exited(child).catch(() => undefined);
      child.kill();
      return stopped;
    }),
  );
  const measured = servers.flatMap((server) => readWindows(join(dir, server.name.replace(/\W+/g, '-'))));
  return report('per request, Express', measured, window * 10, variants);
}

// ---------------------------------------------------------------------------------------------
// Reading callgrind's dumps.

/** JIT compilation (parsing, bytecode, optimizing compiler, deoptimization), by function name. */
const COMPILER =
  /v8::internal::(compiler|maglev|baseline|interpreter|turboshaft)::|v8::internal::(Parser|PreParser|Scanner|Compiler|Zone|AstValueFactory|DeclarationScope|Deoptimizer|Assembler|RelocIterator|OptimizingCompileDispatcher|OptimizedCompilationJob|TurbofanCompilationJob|SourcePositionTableBuilder|BytecodeArrayBuilder)\b|Builtins_CompileLazy/;
/** The garbage collector (scavenges, marking, sweeping, compaction, the heap's bookkeeping), by function name. */
const COLLECTOR =
  /Scaveng|Mark(ing|Compact|Bit)|Sweep|Evacuat|RememberedSet|SlotSet|heap::base::|cppgc::|v8::internal::(Heap|MemoryAllocator|MemoryChunk|PagedSpace|SemiSpace|NewSpace|LargeObjectSpace|GCTracer|FreeList|ArrayBufferSweeper|WeakObjects|ConcurrentMarking|IncrementalMarking|EphemeronHashTable)\b|IteratePointers<v8::internal::\w*(Visitor|Scavenge)/;

/** Every window of a measured process: its label and instructions (the calls' own, compiler, collector). */
function readWindows(dir) {
  const windows = [];
  for (const file of readdirSync(dir).filter((name) => /^callgrind\.out\.\d+$/.test(name))) {
    const text = readFileSync(join(dir, file), 'utf8');
    const label = /^desc: Trigger: dump (.*)$/m.exec(text)?.[1];
    if (label === undefined || label === 'warm-up') continue;
    const names = new Map();
    const counts = { own: 0, compiler: 0, collector: 0 };
    let category = 'own';
    let callCost = false;
    for (const line of text.split('\n')) {
      if (line.startsWith('fn=')) {
        const [, id, name] = /^fn=\((\d+)\)(?: (.*))?$/.exec(line);
        if (name !== undefined) names.set(id, name);
        const fn = names.get(id) ?? '';
        category = COMPILER.test(fn) ? 'compiler' : COLLECTOR.test(fn) ? 'collector' : 'own';
      } else if (line.startsWith('cfn=')) {
        const [, id, name] = /^cfn=\((\d+)\)(?: (.*))?$/.exec(line) ?? [];
        if (name !== undefined) names.set(id, name);
      } else if (line.startsWith('calls=')) {
        callCost = true; // the next cost line is the callee's inclusive cost: not this function's own
      } else if (/^[+\-*\d]/.test(line)) {
        if (callCost) callCost = false;
        else counts[category] += Number(line.split(' ')[1] ?? 0);
      }
    }
    const [, index, model] = /^w(\d+)-m(\d+)$/.exec(label);
    windows.push({ model: Number(model), index: Number(index), ...counts });
  }
  return windows;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const thousands = (x) => `${Math.round(x / 1000).toLocaleString('en')}k`;

/** The report of one part: `names[0]` is the baseline, `names[1]` its twin (A/A), both measured as one. */
function report(title, windows, perWindow, names) {
  const of = (model) => windows.filter((w) => w.model === model);
  const own = (model) => median(of(model).map((w) => w.own)) / perWindow;
  const total = (model) => median(of(model).map((w) => w.own + w.compiler + w.collector)) / perWindow;
  const base = (own(0) + own(1)) / 2;
  const lines = [`RESULT ${title}: instructions each, the median over ${of(0).length} windows of ${perWindow}`];
  lines.push(`  ${''.padEnd(32)} ${'own work'.padStart(10)} ${'ratio'.padStart(7)}   ${'with compiler + GC'.padStart(18)}`);
  names.forEach((name, model) => {
    const ratio = model === 0 ? '' : (model === 1 ? own(0) / own(1) : base / own(model)).toFixed(3);
    lines.push(`  ${name.padEnd(32)} ${thousands(own(model)).padStart(10)} ${ratio.padStart(7)}   ${thousands(total(model)).padStart(18)}`);
  });
  lines.push(`  ratio: ${names[0]} (both its runs) / the row; the A/A row: ${names[0]} / its twin`);
  return lines;
}

if (process.argv[2] === '--calls') await callsChild(process.argv[3]);
else await main();
