// Shared by the consumer apps (copied next to them into each consumer project): loads modules the
// way the app's format says (`cjs`: require(), `esm`: import()), reads what the runner passed in
// the environment, calls the gateway, asks the app over HTTP and prints one JSON line of results.
'use strict';
const { createServer } = require('node:http');

const format = process.argv[2];
if (format !== 'cjs' && format !== 'esm') throw new Error(`format must be cjs or esm, got ${format}`);

/** A module by name, through require() or import(). */
const load = (name) => (format === 'cjs' ? Promise.resolve(require(name)) : import(name));
/** A module's default export (a CommonJS module.exports, such as express). */
const loadDefault = async (name) => {
  const m = await load(name);
  return m.default ?? m;
};

const baseURL = process.env.COMPAT_BASE_URL;
/** Every call the runner expects: { traceId, user, q, via: 'http' | 'run', adapter?, route? }. */
const calls = JSON.parse(process.env.COMPAT_CALLS ?? '[]');
/** Portkey options that route through the gateway to the runner's stub provider. */
const providerOptions = { provider: 'openai', customHost: process.env.COMPAT_CUSTOM_HOST, authorization: 'Bearer sk-compat-provider' };

/** One chat completion through the gateway with the given headers. */
async function gatewayChat(headers, q) {
  const res = await fetch(`${baseURL}/chat/completions`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: q }] }),
  });
  const body = await res.json();
  return { gatewayStatus: res.status, content: body.choices?.[0]?.message?.content ?? JSON.stringify(body) };
}

/** Serves a request listener on 127.0.0.1 and a free port. */
function serve(handler) {
  const server = createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const close = () =>
        new Promise((r) => {
          server.close(r);
          server.closeAllConnections();
        });
      resolve({ url: `http://127.0.0.1:${server.address().port}`, close });
    }),
  );
}

/** Sends one call to the app's GET /ask (or the call's route) as the call's user, with the call's trace ID. */
async function ask(url, call) {
  const path = call.route ?? 'ask';
  const res = await fetch(`${url}/${path}?q=${encodeURIComponent(call.q)}`, { headers: { 'x-request-id': call.traceId, 'x-user': call.user } });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = { text };
  }
  return { ...call, status: res.status, responseTraceId: res.headers.get('x-portkey-trace-id'), ...body };
}

/** Runs the app's main, prints `{ results }` and exits (non-zero with the error on stderr). */
function main(fn) {
  fn().then(
    (results) => {
      console.log(JSON.stringify({ results }));
      process.exit(0);
    },
    (err) => {
      console.error(err?.stack ?? err);
      process.exit(1);
    },
  );
}

module.exports = { ask, calls, format, gatewayChat, load, loadDefault, main, providerOptions, serve };
