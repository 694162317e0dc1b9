/**
 * Runs the NestJS example:
 *
 *   PORTKEY_API_KEY=… PORTKEY_VIRTUAL_KEY=… npx tsx examples/nestjs/main.ts
 *   NEST_PLATFORM=fastify PORTKEY_API_KEY=… PORTKEY_VIRTUAL_KEY=… npx tsx examples/nestjs/main.ts
 *
 *   curl -s localhost:3000/ask -H 'authorization: Bearer alice@acme' -H 'x-request-id: demo-1' \
 *        -H 'content-type: application/json' -d '{"question":"Hello?"}'
 */
import { configFromEnv } from './config.js';
import { createExampleApp } from './create-app.js';

const platform = process.env.NEST_PLATFORM === 'fastify' ? 'fastify' : 'express';
const app = await createExampleApp(configFromEnv(), platform);
const port = Number(process.env.PORT ?? 3000);
await app.listen(port, '127.0.0.1');
console.log(`NestJS example (${platform}) listening on http://127.0.0.1:${app.getHttpServer().address().port}`);
