/**
 * Diagnostics that say what to do (README "Troubleshooting"): every mistake a newcomer makes is a
 * clear error or a one-time warning naming the fix, never silence. Real Express, real LangChain and
 * the real gateway; what reached the gateway is read at the recording proxy.
 */
import express from 'express';
import { getPortkeyContext, PortkeyContextError, portkeyHeaders, runWithPortkeyContext } from 'portkey-context';
import { portkeyMiddleware } from 'portkey-context/express';
import { ChatPortkey } from 'portkey-context/langchain';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { useGatewayStack } from './harness/use-gateway-stack.js';
import { recordPortkeyWarnings } from './harness/warnings.js';

const stack = useGatewayStack();
const warnings = recordPortkeyWarnings();

/** Process warnings are emitted on the next tick. */
const tick = () => new Promise((resolve) => setImmediate(resolve));

async function refusal(fn: () => unknown): Promise<PortkeyContextError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PortkeyContextError);
    return error as PortkeyContextError;
  }
  throw new Error('expected a PortkeyContextError');
}

describe('start-up checks of function options', () => {
  it('generateTraceId: crypto.randomUUID (the Web Crypto method, unbound) works', async () => {
    const app = express();
    app.use(portkeyMiddleware({ generateTraceId: crypto.randomUUID }));
    app.get('/', (req, res) => res.json({ traceId: req.portkey.traceId }));
    const res = await request(app).get('/').expect(200);
    expect(res.body.traceId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(res.headers['x-portkey-trace-id']).toBe(res.body.traceId);
  });

  it('a generateTraceId that throws or returns no trace ID fails at start-up, not on every request', async () => {
    const threw = await refusal(() => portkeyMiddleware({ generateTraceId: () => JSON.parse('{') }));
    expect(threw.code).toBe('INVALID_OPTION');
    expect(threw.message).toMatch(/generateTraceId threw when called at start-up/);
    const wrong = await refusal(() => portkeyMiddleware({ generateTraceId: (() => 42) as never }));
    expect(wrong.message).toMatch(/generateTraceId returned a number when called at start-up/);
  });
});

describe('calls outside any context', () => {
  it('portkeyHeaders() and ChatPortkey warn once per process, naming what to mount; the call still goes out', async () => {
    const model = new ChatPortkey({ model: 'gpt-4o-mini', baseURL: stack.baseURL, apiKey: 'pk-diag', ...stack.providerOptions });
    expect(portkeyHeaders({ apiKey: 'pk-diag' })['x-portkey-trace-id']).toBeUndefined();
    portkeyHeaders();
    await model.invoke('outside');
    await tick();
    const noContext = warnings.filter((w) => w.code === 'PORTKEY_NO_CONTEXT');
    expect(noContext).toHaveLength(1);
    expect(noContext[0]!.message).toMatch(/outside any Portkey context.*portkeyMiddleware\(\).*PortkeyModule\.forRoot\(\).*runWithPortkeyContext/);
    expect(stack.gatewayRequests).toHaveLength(1);
    // traced per LangChain run (a bare call is its own run): a generated trace ID, and no user
    expect(stack.gatewayRequests[0]!.headers['x-portkey-trace-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(stack.gatewayRequests[0]!.headers['x-portkey-metadata']).toBeUndefined();
  });

  it('ChatPortkey strict: true refuses the call outside a context before sending anything', async () => {
    const model = new ChatPortkey({ model: 'gpt-4o-mini', baseURL: stack.baseURL, apiKey: 'pk-diag', strict: true, ...stack.providerOptions });
    const error = await refusal(() => model.invoke('outside'));
    expect(error.code).toBe('NO_CONTEXT');
    expect(error.message).toMatch(/strict.*portkeyMiddleware/);
    await runWithPortkeyContext({ traceId: 'strict-inside' }, () => model.invoke('inside'));
    expect(stack.gatewayRequests.map((r) => r.headers['x-portkey-trace-id'])).toEqual(['strict-inside']);
    expect(() => new ChatPortkey({ strict: 'yes' as never })).toThrow(/"strict" must be a boolean/);
  });

  it('req.portkey read where the request has no context throws NO_CONTEXT saying why', async () => {
    const app = express();
    app.get('/early', (req, res) => res.json({ traceId: req.portkey.traceId })); // before the middleware
    app.use(portkeyMiddleware());
    app.get('/late', (req, res) => res.json({ traceId: req.portkey.traceId }));
    app.use((error: PortkeyContextError, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ code: error.code, message: error.message });
    });
    await request(app).get('/late').set('x-request-id', 'late-1').expect(200, { traceId: 'late-1' });
    const res = await request(app).get('/early').expect(500);
    expect(res.body.code).toBe('NO_CONTEXT');
    expect(res.body.message).toMatch(/runs before app\.use\(portkeyMiddleware\(\)\)/);
  });
});

describe('mounted twice', () => {
  it('a second portkeyMiddleware() on one request is explained once', async () => {
    const app = express();
    app.use(portkeyMiddleware({ metadata: { layer: 'app' } }));
    const admin = express.Router();
    admin.use(portkeyMiddleware({ metadata: { layer: 'admin' } }));
    admin.get('/', (_req, res) => res.json({ metadata: getPortkeyContext().metadata }));
    app.use('/admin', admin);
    await request(app).get('/admin?token=secret').expect(200);
    await request(app).get('/admin').expect(200);
    await tick();
    const duplicate = warnings.filter((w) => w.code === 'PORTKEY_DUPLICATE_MIDDLEWARE');
    expect(duplicate).toHaveLength(1);
    expect(duplicate[0]!.message).toMatch(/ran twice for one request \(GET \/\).*Mount it once/);
    expect(duplicate[0]!.message).not.toContain('secret');
  });
});

describe('ChatOpenAI habits and keys', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['openAIApiKey', { openAIApiKey: 'sk-openai-secret-1' }, /does not take "openAIApiKey".*authorization: 'Bearer sk-…'.*`apiKey` is the Portkey API key/],
    ['configuration.apiKey', { configuration: { apiKey: 'sk-openai-secret-1' } }, /configuration\.apiKey is not sent.*authorization/],
    ['configuration.baseURL', { configuration: { baseURL: 'http://127.0.0.1:8787/v1' } }, /configuration\.baseURL is not used.*`baseURL`.*PORTKEY_BASE_URL/],
    ['an OpenAI key as apiKey', { apiKey: 'sk-openai-secret-1' }, /apiKey \(or PORTKEY_API_KEY\) is the Portkey API key.*looks like a provider's key/],
    ['azureOpenAIApiDeploymentName', { azureOpenAIApiDeploymentName: 'gpt4' }, /azureDeploymentId/],
    ['useResponsesApi', { useResponsesApi: true }, /Chat Completions API/],
  ];
  it.each(cases)('%s is refused with the Portkey option to use, never echoing the value', async (_name, fields, message) => {
    const error = await refusal(() => new ChatPortkey({ model: 'gpt-4o-mini', baseURL: stack.baseURL, ...fields } as never));
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.message).toMatch(message);
    expect(`${error.message}${error.stack}`).not.toContain('sk-openai-secret-1');
  });

  it("no Portkey API key for Portkey's hosted gateway is a clear error before anything is sent", async () => {
    const saved = { key: process.env.PORTKEY_API_KEY, url: process.env.PORTKEY_BASE_URL };
    delete process.env.PORTKEY_API_KEY;
    delete process.env.PORTKEY_BASE_URL;
    const sent: string[] = [];
    try {
      const model = new ChatPortkey({
        model: 'gpt-4o-mini',
        virtualKey: 'vk-diag',
        maxRetries: 0,
        configuration: { fetch: (async (url: string) => sent.push(String(url))) as never },
      });
      const error = await refusal(() => runWithPortkeyContext({ traceId: 'keyless' }, () => model.invoke('hi')));
      expect(error.code).toBe('INVALID_OPTION');
      expect(error.message).toMatch(/No Portkey API key .*https:\/\/api\.portkey\.ai\/v1.*PORTKEY_API_KEY/);
      expect(sent).toEqual([]);
      // A key from the context (the middleware's, a scope's) is enough.
      const withKey = await runWithPortkeyContext({ options: { apiKey: 'pk-context' } }, () => model.invoke('hi')).catch((e: Error) => e);
      expect(String(withKey)).not.toMatch(/No Portkey API key/); // the fake fetch answers nothing usable
      expect(sent).toEqual(['https://api.portkey.ai/v1/chat/completions']);
    } finally {
      if (saved.key !== undefined) process.env.PORTKEY_API_KEY = saved.key;
      if (saved.url !== undefined) process.env.PORTKEY_BASE_URL = saved.url;
    }
  });

  it('a baseURL without /v1 gets a 404 that says so, with the URL to use', async () => {
    const root = stack.baseURL.replace(/\/v1$/, '');
    const model = new ChatPortkey({ model: 'gpt-4o-mini', baseURL: root, apiKey: 'pk-diag', maxRetries: 0, ...stack.providerOptions });
    const error = await runWithPortkeyContext({ traceId: 'no-v1' }, () => model.invoke('hi')).then(
      () => undefined,
      (e: Error & { status?: number }) => e,
    );
    expect(error?.status).toBe(404);
    expect(error?.message).toContain(`a Portkey baseURL ends in /v1 (${root}/v1)`);
    expect(error?.message).not.toMatch(/MODEL_NOT_FOUND/);
    expect(stack.gatewayRequests.map((r) => r.path)).toEqual(['/chat/completions']);
  });
});
