/**
 * The tenant option in the core, through the real gateway where a call is made: a context started
 * by `runWithPortkeyContext` with a tenant, synchronous headers while an async tenant is pending,
 * and the options checked at start-up.
 */
import { expect, it } from 'vitest';
import {
  capturePortkeyContext,
  getPortkeyContext,
  PortkeyContextError,
  portkeyFetch,
  portkeyHeaders,
  portkeyUsage,
  resolvePortkeyTenant,
  runWithPortkeyContext,
  withPortkeyOverrides,
} from 'portkey-context';
import { InMemoryCache } from '@langchain/core/caches';
import { portkeyMiddleware } from 'portkey-context/express';
import { ChatPortkey } from 'portkey-context/langchain';
import { useGatewayStack } from '../harness/use-gateway-stack.js';

const stack = useGatewayStack();

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    return error instanceof PortkeyContextError ? error.code : String(error);
  }
  return undefined;
};

async function ask(gatewayFetch: typeof fetch, q: string): Promise<number> {
  const res = await gatewayFetch(`${stack.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: q }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

it('runWithPortkeyContext({ tenant }) — a routing or an async function — sends the tenant\'s options; the ledger names the tenant', async () => {
  const gatewayFetch = portkeyFetch({ apiKey: 'pk-app', ...stack.providerOptions });
  await runWithPortkeyContext({ traceId: 'job-1', tenant: { id: 'initech', apiKey: 'pk-initech', metadata: { _organisation: 'initech' } } }, async () => {
    expect(await ask(gatewayFetch, 'one')).toBe(200);
    expect(portkeyUsage()).toMatchObject({ tenant: 'initech', calls: 1, totalTokens: 18 });
  });
  let calls = 0;
  await runWithPortkeyContext(
    {
      traceId: 'job-2',
      tenant: async () => {
        calls++;
        return { id: 'umbrella', virtualKey: 'vk-umbrella', cacheNamespace: 'umb' };
      },
    },
    async () => {
      expect(await ask(gatewayFetch, 'two')).toBe(200);
      await withPortkeyOverrides({ cacheNamespace: 'docs' }, () => ask(gatewayFetch, 'three'));
    },
  );
  expect(calls).toBe(1);
  const [first, second, third] = stack.gatewayRequests;
  expect(first!.headers).toMatchObject({ 'x-portkey-trace-id': 'job-1', 'x-portkey-api-key': 'pk-initech', 'x-portkey-cache-namespace': 'initech' });
  expect(JSON.parse(String(first!.headers['x-portkey-metadata']))._organisation).toBe('initech');
  expect(second!.headers).toMatchObject({ 'x-portkey-api-key': 'pk-app', 'x-portkey-virtual-key': 'vk-umbrella', 'x-portkey-cache-namespace': 'umb' });
  expect(third!.headers['x-portkey-cache-namespace']).toBe('umb/docs');
});

it('synchronous headers while an async tenant is pending: TENANT_PENDING; after resolvePortkeyTenant() they carry it', async () => {
  await runWithPortkeyContext({ tenant: async () => ({ id: 'acme', apiKey: 'pk-acme' }) }, async () => {
    expect(codeOf(() => portkeyHeaders())).toBe('TENANT_PENDING');
    expect(await resolvePortkeyTenant()).toBe('acme');
    expect(portkeyHeaders()['x-portkey-api-key']).toBe('pk-acme');
    expect(getPortkeyContext().options.cacheNamespace).toBe('acme');
    // A snapshot (for a job) carries the namespace its calls send, and never the key.
    withPortkeyOverrides({ cacheNamespace: 'docs' }, () => {
      const snapshot = capturePortkeyContext();
      expect(snapshot?.options?.cacheNamespace).toBe('acme/docs');
      expect(JSON.stringify(snapshot)).not.toContain('pk-acme');
    });
  });
  // A synchronous tenant needs no wait.
  runWithPortkeyContext({ tenant: () => ({ id: 'sync', apiKey: 'pk-sync' }) }, () => {
    expect(portkeyHeaders()['x-portkey-api-key']).toBe('pk-sync');
  });
  runWithPortkeyContext({ tenant: () => undefined, requireTenant: true }, () => {
    expect(codeOf(() => portkeyHeaders())).toBe('NO_TENANT');
  });
  // A routing given as is satisfies requireTenant.
  runWithPortkeyContext({ tenant: { id: 'fixed', apiKey: 'pk-fixed' }, requireTenant: true }, () => {
    expect(portkeyHeaders()['x-portkey-api-key']).toBe('pk-fixed');
  });
});

it('a routing that cannot be sent is refused with TENANT_RESOLUTION_FAILED (the value never echoed), and nothing is sent', async () => {
  const gatewayFetch = portkeyFetch({ apiKey: 'pk-app', ...stack.providerOptions });
  const bad: unknown[] = [
    { apiKey: 'pk-no-id' },
    { id: '' },
    { id: 't', traceId: 'mine' },
    { id: 't', apiKey: 'pk-evil\r\nx-injected: 1' },
    'acme',
    { id: 'acme/b' }, // would share "acme/b" with tenant acme's scope namespace "b"
    { id: 't', cacheNamespace: 'x/y' },
  ];
  for (const routing of bad) {
    const error = await runWithPortkeyContext({ tenant: async () => routing as never }, () => ask(gatewayFetch, 'x')).catch((e: unknown) => e);
    expect(error, JSON.stringify(routing)).toBeInstanceOf(PortkeyContextError);
    expect((error as PortkeyContextError).code).toBe('TENANT_RESOLUTION_FAILED');
    expect((error as Error).message).not.toContain('pk-');
  }
  expect(stack.gatewayRequests).toHaveLength(0);
});

it('bad tenant options fail at start-up with INVALID_OPTION', () => {
  expect(codeOf(() => portkeyMiddleware({ tenant: 'acme' as never }))).toBe('INVALID_OPTION');
  expect(codeOf(() => portkeyMiddleware({ requireTenant: true }))).toBe('INVALID_OPTION');
  expect(codeOf(() => portkeyMiddleware({ maxTokensPerRequest: 0 }))).toBe('INVALID_OPTION');
  expect(codeOf(() => portkeyMiddleware({ maxTokensPerRequest: 1.5 }))).toBe('INVALID_OPTION');
  expect(codeOf(() => portkeyMiddleware({ onRequestEnd: 'log' as never }))).toBe('INVALID_OPTION');
  expect(codeOf(() => portkeyMiddleware({ serverTiming: 'yes' as never }))).toBe('INVALID_OPTION');
  expect(codeOf(() => runWithPortkeyContext({ tenant: 42 as never }, () => undefined))).toBe('INVALID_OPTION');
});

it('LangChain\'s cache: a reply cached for one tenant is never served to another, nor to a request refused for having none', async () => {
  const model = new ChatPortkey({ model: 'gpt-4o-mini', baseURL: stack.baseURL, ...stack.providerOptions, maxRetries: 0, cache: new InMemoryCache() });
  const asTenant = (id: string | undefined) => runWithPortkeyContext({ tenant: async () => (id ? { id, apiKey: `pk-${id}` } : undefined), requireTenant: true }, () => model.invoke('same question'));
  await asTenant('acme');
  await asTenant('globex');
  await asTenant('acme'); // from acme's cache entry
  const refused = await asTenant(undefined).catch((error: unknown) => error);
  expect((refused as PortkeyContextError).code).toBe('NO_TENANT');
  expect(stack.gatewayRequests.map((sent) => sent.headers['x-portkey-api-key'])).toEqual(['pk-acme', 'pk-globex']);
});
