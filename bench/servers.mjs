// One benchmark server per process: `node bench/servers.mjs <variant>`; prints its port over IPC.
// Variants are the same hello-world app with a different request-context middleware in front.
import { AsyncLocalStorage } from 'node:async_hooks';
import express from 'express';
import { portkeyMiddleware } from 'portkey-context/express';

const variant = process.argv[2];
const app = express();
app.disable('x-powered-by');

if (variant === 'express-als') {
  // The least any request context costs: a bare AsyncLocalStorage.run(store, next).
  const als = new AsyncLocalStorage();
  app.use(function alsContext(req, _res, next) {
    als.run({ req }, next);
  });
} else if (variant === 'express-portkey') {
  app.use(portkeyMiddleware({ apiKey: 'pk-bench' }));
} else if (variant !== 'express-bare') {
  throw new Error(`unknown variant ${variant}`);
}
app.get('/', (_req, res) => {
  res.send('hello');
});

// The bench asks for this process's CPU time over IPC, to report CPU per request.
process.on('message', () => process.send(process.cpuUsage()));
const server = app.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
