// Side-by-side request-throughput benchmark, reported as ratios to a baseline measured in the same run.
//
// Each round starts a fresh process for both servers of a pair, both pinned to CPU 0 when `taskset`
// is there (this load generator on CPU 1), and loads them *at the same time* with autocannon on
// loopback, 50 connections each. The two processes share one core, so whatever else the machine
// is doing hits both alike, and the ratio of their request rates is the ratio of their CPU cost per
// request. Two methods were tried first and rejected on this shared 2-core machine:
//   - one long-lived process per variant, loaded in turn: two processes of the *same* app differed
//     by ~3% for their whole life (memory layout, JIT decisions), more than the effect measured;
//   - fresh processes loaded in turn: per-round ratios of an A/A pair spread over 0.85-1.08.
// Loading both at once brought the A/A spread to about ±1.5% per round. The start order alternates
// between rounds. Both are loaded for 10 s before a round is measured: V8 goes on optimizing an
// Express hello-world's code for its first ~8,000 requests (`--trace-opt`), and a process that young
// spends much of its CPU compiling, so a 1 s warm-up (the default until this release) measured the
// compiler's work on each variant's code along with the requests (Express: 0.946 with 1 s, 0.961
// with 10 s, medians of three runs, their A/A ~1.0). Each round gives two ratios, candidate / baseline:
//   - req/s: requests per second;
//   - CPU: the server's CPU time per request (baseline / candidate).
// The medians are reported.
//
//   npm run bench                                  # every pair, 8 rounds of 3 s after 10 s of warm-up
//   BENCH_ROUNDS=4 BENCH_SECONDS=2 BENCH_ONLY=express npm run bench
//   BENCH_ONLY=nest node bench/run.mjs              # the NestJS pairs (Express and Fastify platforms)
//   BENCH_PAIRS=express-portkey/express-als,express-als/express-als node bench/run.mjs
//   BENCH_CONNECTIONS=1 BENCH_PAIRS=…  node bench/run.mjs   # one request at a time per server (diagnostic)
import { execFileSync, fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const rounds = Number(process.env.BENCH_ROUNDS ?? 8);
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const warmup = Number(process.env.BENCH_WARMUP ?? 10);
/** Connections per server (diagnostic; the targets are judged at 50). */
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const only = process.env.BENCH_ONLY?.split(',');
/** `BENCH_PAIRS=express-portkey/express-als,…`: just these pairs. */
const onlyPairs = process.env.BENCH_PAIRS?.split(',');
/** [candidate, baseline, required ratio or null] */
const mainPairs = [
  ['express-portkey', 'express-als', 0.97],
  ['express-als', 'express-als', null], // A/A: the same app twice, the noise floor of this run
  ['express-als', 'express-bare', null],
  ['nest-portkey', 'nest-als', 0.97],
  ['nest-als', 'nest-bare', null],
  // On Fastify the context starts in the adapter's request hook (no Nest middleware); the floor is
  // a bare als.run Nest middleware, as on Express.
  ['nest-fastify-portkey', 'nest-fastify-als', 0.97],
  ['nest-fastify-als', 'nest-fastify-bare', null],
];
// BENCH_PAIRS may also name diagnostic pairs, where the Express middleware's cost goes:
// `express-portkey-noheader/express-als`, and `express-als-<piece>/express-als` for the pieces and
// yardsticks in servers.mjs (id, header, idheader, getter, ctx, body52, spin<ns>).
const pairs = onlyPairs
  ? onlyPairs.map((pair) => {
      const [candidate, baseline] = pair.split('/');
      return mainPairs.find(([c, b]) => c === candidate && b === baseline) ?? [candidate, baseline, null];
    })
  : mainPairs.filter(([candidate]) => !only || only.includes(candidate.split('-')[0]));

const serverScript = fileURLToPath(new URL('./servers.mjs', import.meta.url));
const pin = (() => {
  if (availableParallelism() < 2) return false;
  try {
    execFileSync('taskset', ['-c', '1', 'true']);
    execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

async function startServer(variant) {
  const options = { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] };
  if (pin) Object.assign(options, { execPath: 'taskset', execArgv: ['-c', '0', process.execPath] });
  const child = fork(serverScript, [variant], options);
  const { port } = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${variant} exited with ${code}`)));
  });
  const cpu = () =>
    new Promise((resolve) => {
      child.once('message', (usage) => resolve(usage.user + usage.system));
      child.send('cpu');
    });
  return { url: `http://127.0.0.1:${port}/`, cpu, stop: () => new Promise((resolve) => child.once('exit', resolve).kill()) };
}

async function load(server, duration) {
  const before = await server.cpu();
  const result = await autocannon({ url: server.url, connections, pipelining: 1, duration });
  const cpuMicros = (await server.cpu()) - before;
  if (result.non2xx || result.errors) throw new Error(`${server.url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, cpuPerRequest: cpuMicros / result.requests.total };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

console.log(`${rounds} rounds of ${seconds} s per variant (${connections} connections each, both loaded at once, fresh processes each round, ${warmup} s warm-up); ${pin ? 'server pinned to CPU 0, load on CPU 1' : 'no CPU pinning'}\n`);
let failed = false;
for (const [candidate, baseline, target] of pairs) {
  const required = connections === 50 ? target : null; // targets are judged at 50 connections
  const rpsRatios = [];
  const cpuRatios = [];
  for (let round = 0; round < rounds; round++) {
    // index 0: candidate, 1: baseline (two processes even when both run the same variant)
    const order = round % 2 ? [1, 0] : [0, 1];
    const servers = [];
    for (const i of order) servers[i] = await startServer(i === 0 ? candidate : baseline);
    await Promise.all(order.map((i) => load(servers[i], warmup)));
    const r = [];
    await Promise.all(order.map(async (i) => (r[i] = await load(servers[i], seconds))));
    await Promise.all(servers.map((server) => server.stop()));
    rpsRatios.push(r[0].rps / r[1].rps);
    cpuRatios.push(r[1].cpuPerRequest / r[0].cpuPerRequest);
    console.log(
      `  round ${String(round + 1).padStart(2)}: ${candidate} ${r[0].rps.toFixed(0)} req/s, ${baseline} ${r[1].rps.toFixed(0)} req/s` +
        ` | ratio req/s ${rpsRatios.at(-1).toFixed(3)}, CPU ${cpuRatios.at(-1).toFixed(3)}`,
    );
  }
  const rps = median(rpsRatios);
  const cpu = median(cpuRatios);
  const verdict = required === null ? '' : rps >= required ? `  (>= ${required}: ok)` : `  (< ${required}: too slow)`;
  if (required !== null && rps < required) failed = true;
  console.log(`RESULT ${candidate} / ${baseline}: median req/s ratio ${rps.toFixed(3)}, CPU-per-request ratio ${cpu.toFixed(3)}${verdict}\n`);
}
process.exitCode = failed ? 1 : 0;
