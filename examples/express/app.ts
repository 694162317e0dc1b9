/**
 * Example Express app: three lines of portkey-context, and every gateway call made while serving a
 * request carries that request's trace ID and signed-in user.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { portkeyHeaders, type PortkeyOptions, resolvePortkeyOptions } from 'portkey-context';
import { portkeyMiddleware } from 'portkey-context/express';

/** Stand-in for passport & co.: `Authorization: Bearer <user>@<org>` signs a user in. */
function demoAuth(req: Request, _res: Response, next: NextFunction) {
  const token = /^Bearer (\w+)@(\w+)$/.exec(req.header('authorization') ?? '');
  if (token) (req as any).user = { id: token[1], organisationId: token[2] };
  next();
}

export function createApp(portkey: PortkeyOptions = {}) {
  const { baseURL } = resolvePortkeyOptions(portkey);
  const app = express();
  app.use(portkeyMiddleware(portkey)); // 1. every request gets a Portkey context
  app.use(demoAuth); //                    auth may run after it: the user is read when headers are built
  app.use(express.json());

  // 2. any gateway call made while serving the request carries its trace ID and user
  app.post('/ask', async (req, res) => {
    const answer = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { ...portkeyHeaders(), 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: String(req.body?.question ?? '') }] }),
    });
    const body: any = await answer.json();
    res.status(answer.status).json({ traceId: req.portkey.traceId, answer: body.choices?.[0]?.message?.content ?? body });
  });
  return app;
}
