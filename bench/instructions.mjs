// Per-request instruction counts of the benchmark servers, under valgrind's callgrind (needs
// `valgrind`: `apt-get install -y valgrind`). Deterministic where the timed bench is not: the
// machine's noise does not move an instruction count. `npm run bench:instructions`
//
// Each variant of bench/servers.mjs runs in its own process under callgrind, one thread apart from
// another (`--separate-threads`: V8's compiler and GC helper threads are counted apart from the main
// thread, which serves the requests). The servers take requests in lockstep, one at a time on one
// keep-alive connection, first WARM of them each (V8 is still optimizing an Express hello-world
// after 8,000 requests under callgrind: its main thread's count fell ~10% between the 8,000th and
// the 12,000th), then ROUNDS windows of CALLS requests, each window dumped and read apart. Reported
// per request, the main thread's self cost by where it runs:
//   - JavaScript: the JIT's code (V8's interpreter, baseline and optimizing tiers);
//   - V8 builtins: the built-in functions that code calls (inline-cache handlers, string ops, …);
//   - V8 runtime: V8's C++ (inline-cache misses, property lookups, map changes);
//   - V8 GC, Node, libc and the rest.
// JavaScript + builtins is closest to the work of the code itself: two processes of the floor came
// within ~0.5% of each other there. It is not exact: the inline-cache handlers among the builtins
// move with each process's cache states (the same variant measured +1.9k and +5.4k over the floor
// in two runs). The runtime part moves more (a process's inline-cache states and maps differ): two
// processes of one variant can differ there by several percent, so list a variant twice (the
// default does) to see that spread.
//
//   npm run bench:instructions
//   VARIANTS=express-als,express-portkey,express-portkey-noheader WARM=12000 CALLS=1500 ROUNDS=2 node bench/instructions.mjs
//   CG_FLAGS=--cache-sim=yes node bench/instructions.mjs   # L1 misses too (simulated), ~2x slower
import { execFile, execFileSync, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const variants = (process.env.VARIANTS ?? 'express-als,express-portkey,express-als').split(',');
const warm = Number(process.env.WARM ?? 12000);
const calls = Number(process.env.CALLS ?? 1500);
const rounds = Number(process.env.ROUNDS ?? 2);
const cgFlags = process.env.CG_FLAGS?.split(' ').filter(Boolean) ?? [];
try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('bench:instructions needs valgrind (apt-get install -y valgrind).');
  process.exit(1);
}

const serverScript = fileURLToPath(new URL('./servers.mjs', import.meta.url));
const outDir = mkdtempSync(join(tmpdir(), 'portkey-instructions-'));
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = (port) =>
  new Promise((resolve, reject) => http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => res.resume().on('end', resolve)).on('error', reject));
const dump = (pid, label) => new Promise((resolve, reject) => execFile('callgrind_control', ['-d', label, String(pid)], (e) => (e ? reject(e) : resolve())));

console.log(`${variants.join(', ')} under callgrind: ${warm} warm-up requests each, then ${rounds} windows of ${calls} (${outDir})`);
const servers = await Promise.all(
  variants.map(async (variant, i) => {
    const dir = join(outDir, `${i}-${variant}`);
    mkdirSync(dir);
    const execArgv = ['--tool=callgrind', '--separate-threads=yes', ...cgFlags, `--callgrind-out-file=${dir}/cg.out`, `--log-file=${dir}/valgrind.log`, process.execPath];
    const child = fork(serverScript, [variant], { execPath: 'valgrind', execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const { port } = await new Promise((resolve, reject) => {
      child.on('message', (m) => m?.port && resolve(m));
      child.once('exit', (code) => reject(new Error(`${variant} exited with ${code} before listening (see ${dir}/valgrind.log)`)));
    });
    return { variant, dir, child, port };
  }),
);
for (let i = 0; i < warm; i++) for (const s of servers) await get(s.port);
for (const s of servers) await dump(s.child.pid, 'warm-up');
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < calls; i++) for (const s of servers) await get(s.port);
  for (const s of servers) await dump(s.child.pid, `window-${r}`);
}
agent.destroy();
for (const s of servers) s.child.kill();

/** Self cost (first event, Ir) per [object, function] of one callgrind dump. */
function selfCost(file) {
  const names = { fn: new Map(), ob: new Map() };
  const costs = new Map();
  let object = '';
  let fn;
  let skipNext = false;
  for (const line of readFileSync(file, 'latin1').split('\n')) {
    if (skipNext) {
      skipNext = false; // the inclusive cost of a call, counted in the callee
      continue;
    }
    const named = /^(c?)(fn|ob)=\((\d+)\)(?: (.*))?$/.exec(line);
    if (named) {
      const [, callee, kind, id, name] = named;
      if (name !== undefined) names[kind].set(id, name);
      if (!callee && kind === 'ob') object = names.ob.get(id);
      if (!callee && kind === 'fn') fn = `${object}\t${names.fn.get(id)}`;
    } else if (line.startsWith('calls=')) {
      skipNext = true;
    } else if (fn !== undefined && /^[0-9+\-*]/.test(line)) {
      const ir = Number(line.split(' ')[1]);
      if (ir) costs.set(fn, (costs.get(fn) ?? 0) + ir);
    }
  }
  return costs;
}

function category(key) {
  const [object, fn] = key.split('\t');
  if (fn.startsWith('0x') && !object.startsWith('/')) return 'JavaScript';
  if (fn.startsWith('Builtins_')) return 'V8 builtins';
  if (/^v8::internal::.*(Scaveng|Heap|Mark|Sweep|Evacuat|BodyDescriptor|Collect)/.test(fn)) return 'V8 GC';
  if (fn.startsWith('v8::') || fn.includes(' v8::')) return 'V8 runtime';
  if (fn.includes('node::') || fn.startsWith('uv_') || fn.startsWith('llhttp')) return 'Node, libuv';
  if (object.includes('libc')) return 'libc';
  return 'other';
}

const order = ['JavaScript', 'V8 builtins', 'V8 runtime', 'V8 GC', 'Node, libuv', 'libc', 'other'];
const rows = servers.map((s) => {
  const perCategory = Object.fromEntries(order.map((c) => [c, 0]));
  for (let r = 1; r <= rounds; r++) {
    // window r of the main thread (thread 1): cg.out.<dump>-01, the warm-up being dump 1
    for (const [key, ir] of selfCost(`${s.dir}/cg.out.${r + 1}-01`)) perCategory[category(key)] += ir / calls / rounds;
  }
  const code = perCategory.JavaScript + perCategory['V8 builtins'];
  const all = Object.values(perCategory).reduce((a, b) => a + b, 0);
  return { variant: s.variant, perCategory, code, all };
});
const base = rows[0];
const fmt = (n) => Math.round(n).toLocaleString('en-US').padStart(9);
console.log(`\ninstructions per request, main thread (Δ: against ${base.variant}, the first)\n`);
console.log(`${'variant'.padEnd(28)}${order.map((c) => c.padStart(13)).join('')}${'code (JS+builtins)'.padStart(20)}${'all'.padStart(11)}`);
for (const row of rows) {
  const delta = row === base ? '' : `   Δ code ${(row.code - base.code >= 0 ? '+' : '') + Math.round(row.code - base.code)} (${(((row.code - base.code) / base.all) * 100).toFixed(2)}% of a request), Δ all ${(((row.all - base.all) / base.all) * 100).toFixed(2)}%`;
  console.log(`${row.variant.padEnd(28)}${order.map((c) => fmt(row.perCategory[c]).padStart(13)).join('')}${fmt(row.code).padStart(20)}${fmt(row.all).padStart(11)}${delta}`);
}
