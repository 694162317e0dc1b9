/**
 * A hung upstream and no `timeout` set: the call fails at the documented default deadline
 * (60 s per attempt, timeouts not retried) instead of waiting for the HTTP client's 300 s × 7.
 * One slow test, in its own file so it runs beside the others.
 */
import { expect, it } from 'vitest';
import { PortkeyContextError, runWithPortkeyContext } from 'portkey-context';
import { ChatPortkey } from 'portkey-context/langchain';
import { useGatewayStack } from '../harness/use-gateway-stack.js';

const stack = useGatewayStack();

it('fails with TIMEOUT at the 60 s default deadline, after one attempt', { timeout: 90_000 }, async () => {
  stack.stub.script(() => ({ hang: true }));
  const model = new ChatPortkey({ model: 'gpt-4o-mini', apiKey: 'pk-deadline', baseURL: stack.baseURL, ...stack.providerOptions });
  const started = performance.now();
  const error = await runWithPortkeyContext({ traceId: 'hung-upstream' }, () => model.invoke('hello?')).catch((e) => e);
  const elapsed = performance.now() - started;
  expect(error).toBeInstanceOf(PortkeyContextError);
  expect(error.code).toBe('TIMEOUT');
  expect(error.message).toMatch(/within 60000 ms .*\[Portkey trace ID: hung-upstream\]$/);
  expect(elapsed).toBeGreaterThan(59_000);
  expect(elapsed).toBeLessThan(65_000);
  expect(stack.stub.requests).toHaveLength(1);
});
