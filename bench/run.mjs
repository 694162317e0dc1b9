// Side-by-side request-throughput benchmark, reported as ratios to a baseline measured in the same run.
//
// For each pair, both servers run in their own process (pinned to CPU 0 when `taskset` is there, with
// this load generator on CPU 1), are warmed once, then loaded one at a time with autocannon on
// loopback, ABBA, for several rounds. Each round gives two ratios, candidate / baseline:
//   - req/s: requests per second;
//   - CPU: the server's CPU time per request (baseline / candidate), steadier on a noisy machine.
// The medians are reported.
//
//   npm run bench                                  # every pair, 10 rounds of 3 s
//   BENCH_ROUNDS=4 BENCH_SECONDS=2 BENCH_ONLY=express npm run bench
//   BENCH_ONLY=nest node bench/run.mjs              # the NestJS pairs (Express and Fastify platforms)
import { execFileSync, fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const rounds = Number(process.env.BENCH_ROUNDS ?? 10);
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const only = process.env.BENCH_ONLY?.split(',');
/** [candidate, baseline, required ratio or null] */
const pairs = [
  ['express-portkey', 'express-als', 0.97],
  ['express-als', 'express-als', null], // A/A: the same app twice, the noise floor of this run
  ['express-als', 'express-bare', null],
  ['nest-portkey', 'nest-als', 0.97],
  ['nest-als', 'nest-bare', null],
  // Reported, not gated: the bar is the Nest hello-world on the default (Express) platform.
  // On Fastify (~3x faster per request) the module's preValidation hook is a larger share.
  ['nest-fastify-portkey', 'nest-fastify-als', null],
  ['nest-fastify-als', 'nest-fastify-bare', null],
].filter(([candidate]) => !only || only.includes(candidate.split('-')[0]));

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
  return { url: `http://127.0.0.1:${port}/`, cpu, stop: () => child.kill() };
}

async function load(server, duration) {
  const before = await server.cpu();
  const result = await autocannon({ url: server.url, connections: 50, pipelining: 1, duration });
  const cpuMicros = (await server.cpu()) - before;
  if (result.non2xx || result.errors) throw new Error(`${server.url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, cpuPerRequest: cpuMicros / result.requests.total };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

console.log(`${rounds} rounds of ${seconds} s per variant; ${pin ? 'server pinned to CPU 0, load on CPU 1' : 'no CPU pinning'}\n`);
let failed = false;
for (const [candidate, baseline, required] of pairs) {
  const rpsRatios = [];
  const cpuRatios = [];
  // index 0: candidate, 1: baseline (two processes even when both run the same variant)
  const servers = [await startServer(candidate), await startServer(baseline)];
  for (const server of servers) await load(server, 2);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 ? [1, 0] : [0, 1];
    const r = [];
    for (const i of order) r[i] = await load(servers[i], seconds);
    rpsRatios.push(r[0].rps / r[1].rps);
    cpuRatios.push(r[1].cpuPerRequest / r[0].cpuPerRequest);
    console.log(
      `  round ${String(round + 1).padStart(2)}: ${candidate} ${r[0].rps.toFixed(0)} req/s, ${baseline} ${r[1].rps.toFixed(0)} req/s` +
        ` | ratio req/s ${rpsRatios.at(-1).toFixed(3)}, CPU ${cpuRatios.at(-1).toFixed(3)}`,
    );
  }
  for (const server of servers) server.stop();
  const rps = median(rpsRatios);
  const cpu = median(cpuRatios);
  const verdict = required === null ? '' : rps >= required ? `  (>= ${required}: ok)` : `  (< ${required}: too slow)`;
  if (required !== null && rps < required) failed = true;
  console.log(`RESULT ${candidate} / ${baseline}: median req/s ratio ${rps.toFixed(3)}, CPU-per-request ratio ${cpu.toFixed(3)}${verdict}\n`);
}
process.exitCode = failed ? 1 : 0;
