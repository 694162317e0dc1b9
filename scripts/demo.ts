/**
 * `npm run demo`: starts the real Portkey gateway and a stub LLM on 127.0.0.1, serves the Express
 * example, asks as two users at once, and prints what the gateway received for each request.
 */
import { createApp } from '../examples/express/app.js';
import { serveOnLoopback, startGatewayStack } from '../test/harness/index.js';

const stack = await startGatewayStack();
const app = createApp({ baseURL: stack.baseURL, apiKey: 'pk-demo-key', ...stack.providerOptions });
const server = await serveOnLoopback(app);
console.log(`gateway ${stack.gatewayURL}, example app ${server.url}\n`);

try {
  const users = ['alice@acme', 'bob@globex'];
  const replies = await Promise.all(
    users.map(async (user, i) => {
      const res = await fetch(`${server.url}/ask`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user}`, 'content-type': 'application/json', 'x-request-id': `demo-${i + 1}` },
        body: JSON.stringify({ question: `Hello from ${user}` }),
      });
      return { user, status: res.status, body: (await res.json()) as any };
    }),
  );
  for (const reply of replies) {
    console.log(`${reply.user} -> ${reply.status} trace ${reply.body.traceId}: ${JSON.stringify(reply.body.answer)}`);
  }
  console.log('\nWhat the gateway received:');
  for (const r of stack.gatewayRequests) {
    console.log(
      `  ${r.method} ${r.path}  x-portkey-trace-id=${r.headers['x-portkey-trace-id']}  x-portkey-metadata=${r.headers['x-portkey-metadata']}`,
    );
  }
  const ok = users.every((user, i) =>
    stack.gatewayRequests.some(
      (r) => r.headers['x-portkey-trace-id'] === `demo-${i + 1}` && JSON.parse(String(r.headers['x-portkey-metadata']))._user === user.split('@')[0],
    ),
  );
  console.log(ok ? '\nEach request reached the gateway with its own trace ID and user.' : '\nMISMATCH: see above.');
  process.exitCode = ok ? 0 : 1;
} finally {
  await server.close();
  await stack.close();
}
