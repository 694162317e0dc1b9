/**
 * Example Express app: three lines of portkey-context, and every LLM call made while serving a
 * request — here through LangChain — carries that request's trace ID and signed-in user.
 */
import express, { type ErrorRequestHandler, type NextFunction, type Request, type Response } from 'express';
import { portkeyMiddleware } from 'portkey-context/express';
import { ChatPortkey, type ChatPortkeyInput } from 'portkey-context/langchain';

/** Stand-in for passport & co.: `Authorization: Bearer <user>@<org>` signs a user in. */
function demoAuth(req: Request, _res: Response, next: NextFunction) {
  const token = /^Bearer (\w+)@(\w+)$/.exec(req.header('authorization') ?? '');
  if (token) (req as any).user = { id: token[1], organisationId: token[2] };
  next();
}

/**
 * Model failures become 502 / 504 with the trace ID, never the provider's own status (its 401 is
 * not the browser's); a stream cut mid-way ends with an error event; a client that left gets nothing.
 */
const modelErrors: ErrorRequestHandler = (err, req, res, _next) => {
  if (err?.code === 'CLIENT_DISCONNECTED') return;
  if (res.headersSent) {
    res.end(`event: error\ndata: ${JSON.stringify({ traceId: req.portkey?.traceId })}\n\n`);
    return;
  }
  console.error(err.message); // carries the trace ID, never a key
  res.status(err?.code === 'TIMEOUT' ? 504 : 502).json({ error: 'The AI service failed.', traceId: req.portkey?.traceId });
};

export function createApp(modelOptions: ChatPortkeyInput = {}) {
  // One model for the whole app; it picks up each request's context by itself.
  const model = new ChatPortkey({ model: 'gpt-4o-mini', ...modelOptions });

  const app = express();
  app.use(portkeyMiddleware()); // every request gets a Portkey context
  app.use(demoAuth); //           auth may run after it: the user is read when headers are built
  app.use(express.json());

  app.post('/ask', async (req, res) => {
    const reply = await model.invoke(String(req.body?.question ?? ''));
    res.json({ traceId: req.portkey.traceId, answer: reply.content });
  });

  app.post('/ask/stream', async (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for await (const chunk of await model.stream(String(req.body?.question ?? ''))) {
      res.write(`data: ${JSON.stringify(chunk.content)}\n\n`);
    }
    res.end('event: done\ndata: {}\n\n');
  });

  app.use(modelErrors); // after the routes
  return app;
}
