// Consumer check: ChatPortkey from portkey-context/langchain, invoked behind the Express middleware
// (calls via 'http') and inside runWithPortkeyContext() (calls via 'run'), one shared model.
// `node langchain.cjs cjs|esm`: the package through require() or import().
'use strict';
const { ask, calls, load, loadDefault, main, providerOptions, serve } = require('./common.cjs');

main(async () => {
  const express = await loadDefault('express');
  const { runWithPortkeyContext, tryGetPortkeyContext } = await load('portkey-context');
  const { portkeyMiddleware } = await load('portkey-context/express');
  const { ChatPortkey, portkeyResponseMetadata } = await load('portkey-context/langchain');

  const model = new ChatPortkey({ model: 'gpt-4o-mini', apiKey: 'pk-compat', baseURL: process.env.COMPAT_BASE_URL, ...providerOptions, maxRetries: 0 });
  const invoke = async (q) => {
    const seenTraceId = tryGetPortkeyContext()?.traceId;
    const reply = await model.invoke(q);
    return { seenTraceId, content: reply.content, gatewayTraceId: portkeyResponseMetadata(reply)?.traceId };
  };

  const app = express();
  app.use(portkeyMiddleware());
  app.use((req, _res, next) => {
    req.user = { id: req.headers['x-user'] };
    next();
  });
  app.get('/ask', (req, res, next) => {
    invoke(String(req.query.q)).then((answer) => res.json(answer), next);
  });

  const server = await serve(app);
  try {
    return await Promise.all(
      calls.map((call) =>
        call.via === 'run'
          ? runWithPortkeyContext({ traceId: call.traceId, metadata: { _user: call.user } }, () => invoke(call.q)).then((answer) => ({ ...call, status: 200, ...answer }))
          : ask(server.url, call),
      ),
    );
  } finally {
    await server.close();
  }
});
