import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExampleApp } from '../../examples/nestjs/create-app.js';
import { useGatewayStack } from '../harness/use-gateway-stack.js';

const stack = useGatewayStack();

describe.each(['express', 'fastify'] as const)('examples/nestjs on %s (ChatPortkey as a singleton provider)', (platform) => {
  let app: INestApplication;
  let url: string;
  beforeAll(async () => {
    app = await createExampleApp({ model: 'gpt-4o-mini', portkeyApiKey: 'pk-example', baseURL: stack.baseURL, ...stack.providerOptions }, platform);
    app.useLogger(false);
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app?.close();
  });

  it('answers two overlapping users, each call carrying its own trace ID, user and feature tag', async () => {
    const [alice, bob] = await Promise.all([
      request(url).post('/ask').set('authorization', 'Bearer alice@acme').set('x-request-id', `ex-${platform}-a`).send({ question: 'from alice' }),
      request(url).post('/ask').set('authorization', 'Bearer bob@globex').set('x-request-id', `ex-${platform}-b`).send({ question: 'from bob' }),
    ]);
    expect(alice.status).toBe(201);
    expect(alice.body).toEqual({ traceId: `ex-${platform}-a`, user: 'alice', answer: 'echo: from alice' });
    expect(bob.body).toEqual({ traceId: `ex-${platform}-b`, user: 'bob', answer: 'echo: from bob' });

    expect(stack.gatewayRequests).toHaveLength(2);
    for (const [who, org] of [
      ['a', 'acme'],
      ['b', 'globex'],
    ]) {
      const sent = stack.gatewayRequests.find((r) => r.headers['x-portkey-trace-id'] === `ex-${platform}-${who}`)!;
      expect(sent, who).toBeDefined();
      expect(sent.headers['x-portkey-api-key']).toBe('pk-example');
      expect(JSON.parse(String(sent.headers['x-portkey-metadata']))).toMatchObject({
        _user: who === 'a' ? 'alice' : 'bob',
        _organisation: org,
        app: 'nest-example',
        feature: 'ask',
      });
    }
  });

  it('rejects a request without a user before any gateway call', async () => {
    const res = await request(url).post('/ask').send({ question: 'anonymous' });
    expect(res.status).toBe(401);
    expect(stack.gatewayRequests).toHaveLength(0);
  });
});
