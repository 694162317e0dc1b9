// Consumer check: createPortkey() from portkey-context/ai-sdk with the Vercel AI SDK (ai 6 or 7),
// one provider for the app, behind the Express middleware and an auth middleware (req.user): GET
// /generate answers with generateText, GET /stream with streamText (the streamed text collected),
// each call tagged with its route in providerOptions.portkey (metadata `route`, a header only).
// `node ai-sdk.cjs cjs|esm`: the package (and ai) through require() or import().
'use strict';
const { ask, calls, load, loadDefault, main, providerOptions, serve } = require('./common.cjs');

main(async () => {
  const express = await loadDefault('express');
  const { generateText, streamText } = await load('ai');
  const { portkeyMiddleware } = await load('portkey-context/express');
  const { createPortkey, portkeyResponseMetadata } = await load('portkey-context/ai-sdk');

  const portkey = createPortkey({ apiKey: 'pk-compat', baseURL: process.env.COMPAT_BASE_URL, ...providerOptions });
  const model = portkey('gpt-4o-mini');
  const tagged = (route) => ({ portkey: { metadata: { route } } });

  const app = express();
  app.use(portkeyMiddleware());
  app.use((req, _res, next) => {
    req.user = { id: req.headers['x-user'] };
    next();
  });
  app.get('/generate', (req, res, next) => {
    generateText({ model, prompt: String(req.query.q), maxRetries: 0, providerOptions: tagged('generate') }).then(
      (result) => res.json({ seenTraceId: req.portkey.traceId, content: result.text, gatewayTraceId: portkeyResponseMetadata(result)?.traceId }),
      next,
    );
  });
  app.get('/stream', (req, res, next) => {
    let failure;
    const result = streamText({ model, prompt: String(req.query.q), maxRetries: 0, providerOptions: tagged('stream'), onError: ({ error }) => (failure = error) });
    Promise.all([result.text, result.response]).then(
      ([content, response]) => res.json({ seenTraceId: req.portkey.traceId, content, gatewayTraceId: portkeyResponseMetadata(response)?.traceId }),
      (error) => next(failure ?? error),
    );
  });

  const server = await serve(app);
  try {
    return await Promise.all(calls.map((call) => ask(server.url, call)));
  } finally {
    await server.close();
  }
});
