/**
 * The end of a request in a real Express app through the real gateway: `Server-Timing` next to the
 * app's own, however it sets it; `onRequestEnd` once when the middleware is mounted twice (the
 * route's context reported) and when the client left before the middleware ran.
 */
import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { PortkeyRequestEndSummary } from 'portkey-context';
import { portkeyMiddleware } from 'portkey-context/express';
import { ChatPortkey } from 'portkey-context/langchain';
import { openRequest, serveOnLoopback, waitUntil } from '../harness/index.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';

const stack = useGatewayStack();
let server: { url: string; close(): Promise<void> };
const ended: PortkeyRequestEndSummary[] = [];
let slowMiddlewareRan = 0;

beforeAll(async () => {
  const model = new ChatPortkey({ model: 'gpt-4o-mini', apiKey: 'pk-app', baseURL: stack.baseURL, ...stack.providerOptions, maxRetries: 0 });
  const options = { serverTiming: true, onRequestEnd: (summary: PortkeyRequestEndSummary) => void ended.push(summary) };
  const app = express();
  // A slow session lookup before the middleware, on one route: the client may leave meanwhile.
  app.use('/late', (_req, res, next) => {
    res.once('close', () => {
      slowMiddlewareRan++;
      next();
    });
  });
  app.use(portkeyMiddleware(options));
  app.get('/set-header', async (_req, res) => {
    await model.invoke('one');
    res.setHeader('Server-Timing', 'db;dur=5');
    res.json({});
  });
  app.get('/write-head', async (_req, res) => {
    await model.invoke('two');
    res.writeHead(200, { 'Server-Timing': 'app;dur=1', 'content-type': 'text/plain' });
    res.end('ok');
  });
  const router = express.Router();
  router.use(portkeyMiddleware(options)); // mounted twice, by mistake
  router.get('/', async (_req, res) => {
    await model.invoke('three');
    res.json({});
  });
  app.use('/twice', router);
  app.post('/late', (_req, res) => res.json({}));
  server = await serveOnLoopback(app);
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => {
  ended.length = 0;
});

it('Server-Timing: the portkey entry after the app\'s own, set with setHeader or given to writeHead', async () => {
  const viaSetHeader = await request(server.url).get('/set-header');
  expect(viaSetHeader.headers['server-timing']).toMatch(/^db;dur=5, portkey;dur=[\d.]+;desc="1 calls, 18 tokens"$/);
  const viaWriteHead = await request(server.url).get('/write-head');
  expect(viaWriteHead.headers['server-timing']).toMatch(/^app;dur=1, portkey;dur=[\d.]+;desc="1 calls, 18 tokens"$/);
});

it('mounted twice: onRequestEnd runs once, with the calls of the context the route ran in', async () => {
  await request(server.url).get('/twice').set('x-request-id', 'twice-1');
  await waitUntil(() => ended.length === 1);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(ended).toHaveLength(1);
  expect(ended[0]).toMatchObject({ traceId: 'twice-1', calls: 1, totalTokens: 18 });
});

it('a client that left before the middleware ran: onRequestEnd still runs, once', async () => {
  const client = openRequest(`${server.url}/late`, {});
  await new Promise((resolve) => setTimeout(resolve, 50));
  client.leave();
  await waitUntil(() => slowMiddlewareRan === 1);
  await waitUntil(() => ended.length === 1);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(ended).toHaveLength(1);
  expect(ended[0]).toMatchObject({ clientDisconnected: true, calls: 0 });
});
