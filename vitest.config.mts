import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const path = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^portkey-context$/, replacement: path('./src/index.ts') },
      { find: /^portkey-context\/(express|nestjs|langchain|openai|ai-sdk|portkey-ai|otel|bullmq)$/, replacement: path('./integrations/$1/index.ts') },
    ],
  },
  // Nest's DI by type needs decorator metadata, also for files outside tsconfig's include.
  oxc: { decorator: { legacy: true, emitDecoratorMetadata: true } } as never,
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
