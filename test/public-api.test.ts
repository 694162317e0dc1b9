/**
 * The public API is the documented one: every runtime export of every entry point is named in the
 * README, and the root entry exports no internals (the integrations import those directly).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
const entries = {
  'portkey-context': () => import('portkey-context'),
  'portkey-context/express': () => import('portkey-context/express'),
  'portkey-context/nestjs': () => import('portkey-context/nestjs'),
  'portkey-context/langchain': () => import('portkey-context/langchain'),
  'portkey-context/openai': () => import('portkey-context/openai'),
  'portkey-context/ai-sdk': () => import('portkey-context/ai-sdk'),
  'portkey-context/portkey-ai': () => import('portkey-context/portkey-ai'),
  'portkey-context/otel': () => import('portkey-context/otel'),
  'portkey-context/bullmq': () => import('portkey-context/bullmq'),
};

describe('the public API', () => {
  it.each(Object.entries(entries))('%s: every export is documented in the README', async (_entry, load) => {
    const undocumented = Object.keys(await load()).filter((name) => !new RegExp(`\`@?${name}\\b`).test(readme));
    expect(undocumented).toEqual([]);
  });

  it('the root entry exports exactly the documented core', async () => {
    expect(Object.keys(await import('portkey-context')).sort()).toEqual([
      'DEFAULT_TRACE_ID_HEADERS',
      'METADATA_HEADER_MAX_LENGTH',
      'PORTKEY_REQUEST_OPTIONS',
      'PortkeyContextError',
      'capturePortkeyContext',
      'createPortkeyHeaders',
      'displayURL',
      'generateSpanId',
      'generateTraceId',
      'getPortkeyContext',
      'isValidTraceId',
      'metadataHeader',
      'parseTraceparent',
      'portkeyFetch',
      'portkeyHeaders',
      'portkeyPropagationHeaders',
      'portkeySignal',
      'portkeyUsage',
      'readPortkeyResponseHeaders',
      'readTraceId',
      'redactSecrets',
      'resolvePortkeyOptions',
      'resolvePortkeyTenant',
      'runWithPortkeyContext',
      'secretValues',
      'tryGetPortkeyContext',
      'withPortkeyOverrides',
      'withPortkeyPropagation',
    ]);
  });
});
