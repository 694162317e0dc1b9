// What each compat check talks to: the real Portkey gateway (@portkey-ai/gateway, the repo's
// devDependency; one per run, shared), and per check its own recording proxy in front of the
// gateway (the gateway strips x-portkey-* headers before the provider, so the proxy is where the
// headers the app sent are seen) and its own OpenAI-compatible stub as the provider behind it.
// Every server binds 127.0.0.1 on a free port.
import { spawn } from 'node:child_process';
import { createServer, request } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Starts the gateway with the loopback preload; resolves once `GET /` answers. */
export async function startGateway(repoRoot) {
  const pkg = createRequire(join(repoRoot, 'package.json')).resolve('@portkey-ai/gateway/package.json');
  const args = ['--import', join(import.meta.dirname, 'loopback-only.mjs'), join(dirname(pkg), 'build', 'start-server.js')];
  const child = spawn(process.execPath, [...args, '--port=0', '--headless'], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start in 20 s:\n${output}`)), 20_000);
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}:\n${output}`)));
    child.on('message', (m) => {
      if (m?.type !== 'listening') return;
      clearTimeout(timer);
      resolve(m.port);
    });
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`${url}/`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.removeAllListeners('exit');
  return { url, close: () => (child.exitCode === null ? new Promise((r) => child.once('exit', r).kill('SIGTERM')) : undefined) };
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)));
}

function closeServer(server) {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(resolve));
}

/** An OpenAI-compatible chat completion that echoes the last user message. */
function completion(body) {
  const text = body?.messages?.findLast?.((m) => m.role === 'user')?.content ?? '';
  return {
    id: 'chatcmpl-compat',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: body?.model ?? 'stub',
    choices: [{ index: 0, message: { role: 'assistant', content: `echo: ${text}` }, finish_reason: 'stop', logprobs: null }],
    usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
  };
}

/**
 * The same completion as server-sent events (`stream: true`): a role chunk, the text in two pieces,
 * the finish reason, usage when asked for (`stream_options.include_usage`), `[DONE]`.
 */
function completionEvents(body) {
  const full = completion(body);
  const base = { id: full.id, object: 'chat.completion.chunk', created: full.created, model: full.model };
  const text = full.choices[0].message.content;
  const half = Math.ceil(text.length / 2);
  const delta = (d, finish = null) => ({ ...base, choices: [{ index: 0, delta: d, finish_reason: finish }] });
  const chunks = [delta({ role: 'assistant', content: '' }), delta({ content: text.slice(0, half) }), delta({ content: text.slice(half) }), delta({}, 'stop')];
  if (body?.stream_options?.include_usage) chunks.push({ ...base, choices: [], usage: full.usage });
  return `${chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('')}data: [DONE]\n\n`;
}

/** Stub provider + recording proxy for one check, in front of the shared gateway. */
export async function startCellStack(gatewayURL) {
  const stubRequests = [];
  const stub = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      let body;
      try {
        body = JSON.parse(raw);
      } catch {}
      stubRequests.push({ path: req.url, q: body?.messages?.findLast?.((m) => m.role === 'user')?.content, stream: body?.stream === true, bodyKeys: Object.keys(body ?? {}) });
      const found = req.url.endsWith('/chat/completions');
      if (found && body?.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.end(completionEvents(body));
        return;
      }
      res.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(found ? completion(body) : { error: { message: `stub: no route ${req.url}` } }));
    });
  });

  const gatewayRequests = [];
  const target = new URL(gatewayURL);
  const proxy = createServer((req, res) => {
    const recorded = { path: req.url, headers: req.headers };
    gatewayRequests.push(recorded);
    const headers = { ...req.headers, host: target.host };
    const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (answer) => {
      recorded.status = answer.statusCode;
      recorded.responseHeaders = answer.headers;
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (err) => {
      recorded.error = err.message;
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });

  const [stubURL, proxyURL] = await Promise.all([listen(stub), listen(proxy)]);
  return {
    baseURL: `${proxyURL}/v1`,
    customHost: `${stubURL}/v1`,
    gatewayRequests,
    stubRequests,
    close: () => Promise.all([closeServer(stub), closeServer(proxy)]),
  };
}
