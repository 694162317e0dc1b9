// Compatibility matrix (`node compat/run.mjs [FILTER]`, after `npm run build`): packs the package,
// installs the tarball with each dependency set of cells.mjs into its own consumer project, and
// runs each check under each of its Node versions against the real Portkey gateway, which must see
// every request's trace ID and `_user`. Two jobs at a time; prints a table; exits 1 on any failure.
// FILTER keeps the checks whose id contains it (e.g. `nest12`, `langchain`, `types`).
//
// Installs are cached, keyed by the dependency set, and re-install only the tarball when it changed.
// The cache ($PORTKEY_COMPAT_CACHE, default: the OS temp dir) is outside the repo on purpose: from
// a project under node_modules/.cache, a package missing from the consumer would silently resolve
// from the repo's own node_modules (Node and TypeScript both look in every parent folder).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKS, NODE_BINARIES, SETS } from './cells.mjs';
import { startCellStack, startGateway } from './stack.mjs';

const here = import.meta.dirname;
const repo = join(here, '..');
const cache = process.env.PORTKEY_COMPAT_CACHE || join(tmpdir(), 'portkey-compat');
const npmFlags = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];
const machineNode = Number(process.versions.node.split('.')[0]);

/** The environment for npm: npm-run's own variables (prefix, package, lifecycle) are left out. */
const npmEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_(package_|lifecycle_|config_(local_)?prefix$)/i.test(k)),
);

/** Runs a command; resolves { code, stdout, stderr, seconds, timedOut } (never rejects). */
function exec(command, args, { cwd, env = npmEnv, timeout = 600_000 } = {}) {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      process.kill(-child.pid, 'SIGKILL');
    }, timeout);
    const done = (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut, seconds: (performance.now() - started) / 1000 });
    };
    child.on('error', (err) => done(`${err.message}`));
    child.on('close', done);
  });
}

/** Runs at most `n` jobs at once, in the order they were queued. */
function limiter(n) {
  let active = 0;
  const queue = [];
  const next = () => {
    if (active >= n || queue.length === 0) return;
    active++;
    const { job, resolve, reject } = queue.shift();
    job()
      .then(resolve, reject)
      .finally(() => {
        active--;
        next();
      });
  };
  return (job) =>
    new Promise((resolve, reject) => {
      queue.push({ job, resolve, reject });
      next();
    });
}

const hash = (data) => createHash('sha256').update(data).digest('hex').slice(0, 16);
const readJson = (file) => (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined);
const fail = (step, out) => ({ ok: false, detail: `${step} failed (${out.timedOut ? 'timed out' : `exit ${out.code}`})\n${out.stderr}${out.stdout}` });

/** `npm pack` of the built package; the tarball's name carries its content hash. */
async function pack() {
  const dir = join(cache, 'pack');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const out = await exec('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: repo });
  if (out.code !== 0) throw new Error(`npm pack failed:\n${out.stderr}`);
  const file = join(dir, out.stdout.trim().split('\n').at(-1));
  return { file, name: `portkey-context-${hash(readFileSync(file))}.tgz` };
}

/** A Node binary of the given major: the machine's own, or node@X from the registry, cached. */
async function installNode(major) {
  if (major === machineNode) return { ok: true, bin: process.execPath, version: process.version, seconds: 0, cached: true };
  const version = NODE_BINARIES[major];
  if (!version) return { ok: false, detail: `no Node ${major} binary is pinned in cells.mjs` };
  const dir = join(cache, `node-${version}`);
  const bin = join(dir, 'node_modules', '.bin', 'node');
  const probe = async () => existsSync(bin) && (await exec(bin, ['--version'])).stdout.trim() === `v${version}`;
  if (await probe()) return { ok: true, bin, version: `v${version}`, seconds: 0, cached: true };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const out = await exec('npm', ['install', '--prefix', dir, `node@${version}`, ...npmFlags]);
  if (out.code !== 0 || !(await probe())) return fail(`npm install node@${version}`, out);
  return { ok: true, bin, version: `v${version}`, seconds: out.seconds, cached: false };
}

/** The consumer project of a set: its pinned deps installed once, the current tarball on top. */
async function installSet(name, tarball) {
  const { deps, report } = SETS[name];
  const dir = join(cache, 'sets', `${name}-${hash(JSON.stringify(deps))}`);
  const stateFile = join(dir, '.compat-state.json');
  let state = readJson(stateFile);
  let seconds = 0;
  if (state?.tarball !== tarball.name) {
    if (!state) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: `compat-${name}`, private: true, dependencies: deps }, null, 2)}\n`);
    }
    copyFileSync(tarball.file, join(dir, tarball.name));
    const out = await exec('npm', ['install', `./${tarball.name}`, ...npmFlags], { cwd: dir });
    if (out.code !== 0) return fail('npm install', out);
    if (state) rmSync(join(dir, state.tarball), { force: true });
    state = { tarball: tarball.name };
    writeFileSync(stateFile, JSON.stringify(state));
    seconds = out.seconds;
  }
  // The apps and typecheck files are copied on every run (they are not part of the cache key).
  for (const from of ['apps', 'types']) {
    for (const file of readdirSync(join(here, from))) copyFileSync(join(here, from, file), join(dir, file));
  }
  copyFileSync(join(dir, 'consumer.ts'), join(dir, 'consumer.mts'));
  const installed = (pkg) => readJson(join(dir, 'node_modules', pkg, 'package.json'))?.version ?? 'missing';
  const versions = [...Object.keys(deps), ...report].map((pkg) => `${pkg}@${installed(pkg)}`);
  const wrong = Object.entries(deps).filter(([pkg, version]) => installed(pkg) !== version);
  if (wrong.length) return { ok: false, detail: `installed versions differ from the pins: ${wrong.map(([p, v]) => `${p} ${installed(p)} (pinned ${v})`).join(', ')}` };
  return { ok: true, dir, versions, seconds, cached: seconds === 0 };
}

/** Removes cached installs (sets/*, node-*) that no current set or pinned Node version uses. */
function prune() {
  const keep = new Set([
    ...Object.entries(SETS).map(([name, { deps }]) => join('sets', `${name}-${hash(JSON.stringify(deps))}`)),
    ...Object.values(NODE_BINARIES).map((version) => `node-${version}`),
  ]);
  const ours = [...readdirSync(join(cache, 'sets')).map((name) => join('sets', name)), ...readdirSync(cache).filter((name) => name.startsWith('node-'))];
  for (const name of ours) if (!keep.has(name)) rmSync(join(cache, name), { recursive: true, force: true });
}

/**
 * The calls an app check makes: two overlapping users per server (Nest: on each platform) or per
 * route (the AI SDK: generateText and streamText), one more outside any request (LangChain).
 */
function callsFor(check, id) {
  const users = ['alice', 'bob'];
  const variants =
    check.app === 'nest'
      ? [{ adapter: 'express' }, { adapter: 'fastify' }]
      : check.app === 'ai-sdk'
        ? [{ route: 'generate' }, { route: 'stream' }]
        : [{}];
  const calls = variants.flatMap((variant) => {
    const where = variant.adapter ?? variant.route;
    return users.map((user) => ({ via: 'http', ...variant, user, traceId: [id, where, user].filter(Boolean).join('.'), q: `${user} on ${where ?? check.app}` }));
  });
  if (check.app === 'langchain') calls.push({ via: 'run', user: 'carol', traceId: `${id}.carol`, q: 'carol in runWithPortkeyContext' });
  return calls;
}

/** What must hold after an app check: its own view, and what the gateway and the provider saw. */
function verify(out, calls, stack) {
  const problems = [];
  if (out.code !== 0) problems.push(out.timedOut ? 'timed out' : `exit code ${out.code}`);
  let results = [];
  try {
    results = JSON.parse(out.stdout.trim().split('\n').at(-1)).results;
  } catch {
    problems.push('no JSON result line on stdout');
  }
  for (const call of calls) {
    const got = results.find((r) => r.traceId === call.traceId);
    const sent = stack.gatewayRequests.filter((r) => r.headers['x-portkey-trace-id'] === call.traceId);
    const say = (what) => problems.push(`${call.traceId}: ${what}`);
    if (!got) say('no result from the app');
    else {
      if (got.status !== 200) say(`app answered ${got.status}: ${JSON.stringify(got).slice(0, 300)}`);
      if (got.seenTraceId !== call.traceId) say(`context trace ID was ${got.seenTraceId}`);
      if (got.content !== `echo: ${call.q}`) say(`answer was ${JSON.stringify(got.content)}`);
      if (call.via === 'http' && got.responseTraceId !== call.traceId) say(`x-portkey-trace-id response header was ${got.responseTraceId}`);
      if (got.gatewayTraceId !== undefined && got.gatewayTraceId !== call.traceId) say(`the app read trace ID ${got.gatewayTraceId} from the gateway's response`);
    }
    if (call.route) {
      // The AI SDK app tags each call with its route in providerOptions.portkey: a header, never the body.
      const upstream = stack.stubRequests.find((r) => r.q === call.q);
      if (call.route === 'stream' && !upstream?.stream) say('no streamed request reached the provider');
      const leaked = upstream?.bodyKeys.filter((key) => ['portkey', 'metadata', 'route'].includes(key));
      if (leaked?.length) say(`per-call Portkey options reached the provider's request body: ${leaked.join(', ')}`);
    }
    if (sent.length !== 1) {
      say(`${sent.length} gateway requests carried this trace ID`);
      continue;
    }
    const [request] = sent;
    let metadata;
    try {
      metadata = JSON.parse(request.headers['x-portkey-metadata']);
    } catch {}
    if (metadata?._user !== call.user) say(`x-portkey-metadata at the gateway was ${request.headers['x-portkey-metadata']}`);
    if (call.route && metadata?.route !== call.route) say(`providerOptions.portkey did not reach the gateway: x-portkey-metadata was ${request.headers['x-portkey-metadata']}`);
    if (request.headers['x-portkey-api-key'] !== 'pk-compat') say('x-portkey-api-key missing at the gateway');
    if (request.status !== 200) say(`gateway answered ${request.status ?? request.error}`);
    if (request.responseHeaders?.['x-portkey-trace-id'] !== call.traceId) say('the gateway did not echo the trace ID');
  }
  if (stack.gatewayRequests.length !== calls.length) problems.push(`${stack.gatewayRequests.length} gateway requests, expected ${calls.length}`);
  if (stack.stubRequests.length !== calls.length) problems.push(`${stack.stubRequests.length} provider requests behind the gateway, expected ${calls.length}`);
  return problems;
}

async function runApp(check, format, node, set, gateway) {
  const id = `${check.set}.${check.app}.${format}.node${node.version.split('.')[0].slice(1)}`;
  const calls = callsFor(check, id);
  const stack = await startCellStack(gateway.url);
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    COMPAT_BASE_URL: stack.baseURL,
    COMPAT_CUSTOM_HOST: stack.customHost,
    COMPAT_CALLS: JSON.stringify(calls),
  };
  const out = await exec(node.bin, [`${check.app}.cjs`, format], { cwd: set.dir, env, timeout: 90_000 });
  await stack.close();
  return { out, problems: verify(out, calls, stack) };
}

async function runTsc(check, set) {
  const tsc = check.typescript === 'repo' ? join(repo, 'node_modules', 'typescript', 'bin', 'tsc') : join(set.dir, 'node_modules', 'typescript', 'bin', 'tsc');
  const version = readJson(join(tsc, '..', '..', 'package.json')).version;
  const out = await exec(process.execPath, [tsc, '-p', `tsconfig.${check.tsc}.json`], { cwd: set.dir, timeout: 180_000 });
  return { out, problems: out.code === 0 ? [] : [`tsc ${version} exit ${out.code}`], extra: `typescript@${version}` };
}

async function main() {
  const filter = process.argv[2] ?? '';
  if (!existsSync(join(repo, 'dist'))) throw new Error('dist/ is missing: run `npm run build` first');
  const jobs = CHECKS.flatMap((check) =>
    (check.tsc ? [`types-${check.tsc}`] : check.formats).flatMap((variant) =>
      check.nodes.map((node) => ({ check, variant, node, id: `${check.set}/${check.app ?? 'tsc'}-${check.tsc ?? variant}` })),
    ),
  ).filter((job) => `${job.id}@${job.node}`.includes(filter));
  if (jobs.length === 0) throw new Error(`no check matches ${filter}`);

  const started = performance.now();
  mkdirSync(join(cache, 'sets'), { recursive: true });
  prune();
  const [tarball, gateway] = await Promise.all([pack(), startGateway(repo)]);
  const slot = limiter(2);
  const rows = [];
  const failures = [];
  const once = new Map();
  const memo = (key, job) => once.get(key) ?? once.set(key, slot(job)).get(key);
  const nodeOf = (major) => memo(`node${major}`, () => installNode(major));
  const setOf = (name) => memo(`set ${name}`, () => installSet(name, tarball));
  // Queue every install first, in the order checks need them.
  for (const job of jobs) {
    setOf(job.check.set);
    nodeOf(job.node);
  }

  await Promise.all(
    jobs.map(async (job) => {
      const [node, set] = await Promise.all([nodeOf(job.node), setOf(job.check.set)]);
      const row = { cell: job.id, node: node.version ?? `v${job.node}`, versions: set.versions?.join(' ') ?? '', result: 'FAIL', seconds: 0 };
      rows.push(row);
      if (!node.ok || !set.ok) {
        row.result = 'FAIL (install)';
        failures.push({ row, detail: [node.detail, set.detail].filter(Boolean).join('\n') });
        return;
      }
      const { out, problems, extra } = await slot(() => (job.check.tsc ? runTsc(job.check, set) : runApp(job.check, job.variant, node, set, gateway)));
      row.seconds = out.seconds;
      // A typecheck names the TypeScript it ran first (the set's own typescript may not be the one).
      if (extra) row.versions = [extra, ...set.versions.filter((v) => !v.startsWith('typescript@'))].join(' ');
      if (problems.length === 0) row.result = 'pass';
      else failures.push({ row, detail: `${problems.join('\n')}\n--- stderr ---\n${out.stderr}--- stdout ---\n${out.stdout}` });
    }),
  );
  await gateway.close();

  const installs = [];
  for (const [key, promise] of once) {
    const r = await promise;
    if (r.ok && r.seconds > 0) installs.push(`${key} ${r.seconds.toFixed(1)} s`);
  }
  rows.sort((a, b) => a.cell.localeCompare(b.cell) || a.node.localeCompare(b.node, 'en', { numeric: true }));
  const table = [{ cell: 'cell', node: 'node', result: 'result', seconds: 'seconds', versions: 'versions installed' }, ...rows];
  const width = (key) => Math.max(...table.map((r) => String(r[key]).length));
  const line = (r) =>
    [r.cell.padEnd(width('cell')), r.node.padEnd(width('node')), r.result.padEnd(width('result')), String(typeof r.seconds === 'number' ? r.seconds.toFixed(1) : r.seconds).padStart(7), r.versions].join('  ');
  const shown = new Set();
  for (const { row, detail } of failures) {
    console.log(`\n=== FAIL ${row.cell} on Node ${row.node}\n${shown.has(detail) ? '(the same install failure as above)' : detail.trimEnd()}`);
    shown.add(detail);
  }
  console.log(`\n${table.map(line).join('\n')}`);
  console.log(`\ninstalls: ${installs.join(', ') || 'all cached'}`);
  const passed = rows.filter((r) => r.result === 'pass').length;
  console.log(`matrix time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(`compat: ${passed} passed, ${rows.length - passed} failed`);
  process.exitCode = failures.length ? 1 : 0;
}

main().catch((err) => {
  console.error(err?.stack ?? err);
  process.exit(1);
});
