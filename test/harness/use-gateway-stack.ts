import { afterAll, beforeAll, beforeEach } from 'vitest';
import { type GatewayStack, startGatewayStack } from './index.js';

/**
 * The test file's gateway stack: started before its first test, reset before each test, closed
 * after the last. The object is filled in when the stack starts, so read it in hooks and tests, not
 * at module load. Call it before the file's own hooks: vitest runs `before*` hooks in order and
 * `after*` hooks in reverse, so a server the file starts in its `beforeAll` can use the stack and is
 * closed before it.
 */
export function useGatewayStack(): GatewayStack {
  const stack = {} as GatewayStack;
  let started: GatewayStack | undefined;
  beforeAll(async () => {
    started = await startGatewayStack();
    Object.assign(stack, started);
  });
  afterAll(async () => {
    await started?.close();
  });
  beforeEach(() => stack.reset());
  return stack;
}
