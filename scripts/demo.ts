/**
 * `npm run demo`: starts the real Portkey gateway and a stub LLM on 127.0.0.1, serves the Express
 * example (ChatPortkey behind portkeyMiddleware), asks as two users at once — one plain answer and
 * one streamed — and prints what the gateway received for each call.
 */
import { createApp } from '../examples/express/app.js';
import { serveOnLoopback, startGatewayStack } from '../test/harness/index.js';

const stack = await startGatewayStack();
const app = createApp({ baseURL: stack.baseURL, apiKey: 'pk-demo-key', ...stack.providerOptions, maxRetries: 0 });
const server = await serveOnLoopback(app);
console.log(`Portkey gateway ${stack.gatewayURL} (stub LLM behind it), example app ${server.url}\n`);

async function ask(path: string, user: string, requestId: string, question: string) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user}`, 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify({ question }),
  });
  const text = await res.text();
  const answer = path.endsWith('/stream')
    ? [...text.matchAll(/^data: (".*")$/gm)].map((m) => JSON.parse(m[1]!)).join('')
    : JSON.parse(text).answer;
  return { path, user, requestId, status: res.status, trace: res.headers.get('x-portkey-trace-id'), answer };
}

try {
  const calls = [
    ['/ask', 'alice@acme', 'demo-alice-1', 'What is Portkey?'],
    ['/ask/stream', 'alice@acme', 'demo-alice-2', 'Stream me a haiku'],
    ['/ask', 'bob@globex', 'demo-bob-1', 'Who am I?'],
    ['/ask/stream', 'bob@globex', 'demo-bob-2', 'Stream me a limerick'],
  ] as const;
  const replies = await Promise.all(calls.map(([path, user, requestId, question]) => ask(path, user, requestId, question)));
  for (const r of replies) console.log(`${r.user.padEnd(11)} POST ${r.path.padEnd(12)} -> ${r.status} trace=${r.trace} answer=${JSON.stringify(r.answer)}`);

  console.log('\nWhat the gateway received:');
  for (const r of stack.gatewayRequests) {
    const meta = JSON.parse(String(r.headers['x-portkey-metadata'] ?? '{}'));
    console.log(
      `  ${r.path} stream=${Boolean(r.body?.stream)} trace=${r.headers['x-portkey-trace-id']} _user=${meta._user} _organisation=${meta._organisation} span=${r.headers['x-portkey-span-name']}:…${String(r.headers['x-portkey-span-id']).slice(-12)}`,
    );
  }
  const ok = calls.every(([, user, requestId]) =>
    stack.gatewayRequests.some(
      (r) => r.headers['x-portkey-trace-id'] === requestId && JSON.parse(String(r.headers['x-portkey-metadata']))._user === user.split('@')[0],
    ),
  );
  console.log(ok ? '\nEvery call reached the gateway with its own request\'s trace ID and user.' : '\nMISMATCH: see above.');
  process.exitCode = ok ? 0 : 1;
} finally {
  await server.close();
  await stack.close();
}
