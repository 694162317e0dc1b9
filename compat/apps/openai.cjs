// Consumer check: createPortkeyOpenAI() from portkey-context/openai (the `openai` SDK's client), one
// client for the app, behind the Express middleware and an auth middleware (req.user): GET /ask
// answers with client.chat.completions.create(). `node openai.cjs cjs|esm`: the package through
// require() or import().
'use strict';
const { ask, calls, load, loadDefault, main, providerOptions, serve } = require('./common.cjs');

main(async () => {
  const express = await loadDefault('express');
  const { portkeyMiddleware } = await load('portkey-context/express');
  const { createPortkeyOpenAI } = await load('portkey-context/openai');

  const client = createPortkeyOpenAI({ apiKey: 'pk-compat', baseURL: process.env.COMPAT_BASE_URL, ...providerOptions, configuration: { maxRetries: 0 } });

  const app = express();
  app.use(portkeyMiddleware());
  app.use((req, _res, next) => {
    req.user = { id: req.headers['x-user'] };
    next();
  });
  app.get('/ask', (req, res, next) => {
    client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: String(req.query.q) }] }).then(
      (completion) => res.json({ seenTraceId: req.portkey.traceId, content: completion.choices[0]?.message?.content }),
      next,
    );
  });

  const server = await serve(app);
  try {
    return await Promise.all(calls.map((call) => ask(server.url, call)));
  } finally {
    await server.close();
  }
});
