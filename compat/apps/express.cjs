// Consumer check: Express (4 or 5) with portkeyMiddleware() from portkey-context/express, an auth
// middleware after it (req.user, as passport sets it), and a route that calls the gateway with
// portkeyHeaders() and fetch. `node express.cjs cjs|esm`: the package through require() or import().
'use strict';
const { ask, calls, gatewayChat, load, loadDefault, main, providerOptions, serve } = require('./common.cjs');

main(async () => {
  const express = await loadDefault('express');
  const { portkeyHeaders } = await load('portkey-context');
  const { portkeyMiddleware } = await load('portkey-context/express');

  const app = express();
  app.use(portkeyMiddleware({ apiKey: 'pk-compat' }));
  app.use((req, _res, next) => {
    req.user = { id: req.headers['x-user'] };
    next();
  });
  app.get('/ask', (req, res, next) => {
    gatewayChat(portkeyHeaders(providerOptions), String(req.query.q)).then((answer) => res.json({ seenTraceId: req.portkey.traceId, ...answer }), next);
  });

  const server = await serve(app);
  try {
    return await Promise.all(calls.map((call) => ask(server.url, call)));
  } finally {
    await server.close();
  }
});
