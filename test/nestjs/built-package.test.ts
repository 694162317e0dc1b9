import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const fixture = join(import.meta.dirname, 'fixtures', 'built-app.cjs');
const run = promisify(execFile);

describe('the built portkey-context/nestjs (dist/), without decorator metadata', () => {
  it('has been built (npm run build; npm test builds first)', () => {
    for (const file of ['dist/esm/integrations/nestjs/index.js', 'dist/cjs/integrations/nestjs/index.js', 'dist/types/integrations/nestjs/index.d.ts']) {
      expect(existsSync(join(root, file)), `${file} is missing: run npm run build`).toBe(true);
    }
  });

  it.each([
    ['esm', 'express'],
    ['cjs', 'express'],
    ['esm', 'fastify'],
    ['cjs', 'fastify'],
  ])('loads through %s (import / require) and mounts the context on %s', async (format, adapter) => {
    const { stdout } = await run(process.execPath, ['--no-warnings', fixture, format, adapter], { cwd: root, timeout: 20_000 });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    const traceId = `built-${format}-${adapter}`;
    expect(result.status).toBe(200);
    expect(result.responseTraceId).toBe(traceId);
    expect(result.body).toMatchObject({ traceId, serviceTraceId: traceId, user: 'zoe' });
    expect(result.body.headers['x-portkey-api-key']).toBe('pk-built');
    expect(result.body.headers['x-portkey-trace-id']).toBe(traceId);
    expect(JSON.parse(result.body.headers['x-portkey-metadata'])).toMatchObject({ _user: 'zoe' });
  });

  it('resolves with require() and import() in plain node to the dist files', async () => {
    const script = [
      "const c = require.resolve('portkey-context/nestjs');",
      "import('portkey-context/nestjs').then((m) => {",
      "  const r = require('portkey-context/nestjs');",
      "  console.log(JSON.stringify({ c, esm: Object.keys(m).sort(), cjs: Object.keys(r).filter((k) => k !== '__esModule').sort() }));",
      '});',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--no-warnings', '-e', script], { cwd: root, timeout: 20_000 });
    const out = JSON.parse(stdout.trim());
    expect(out.c).toBe(join(root, 'dist/cjs/integrations/nestjs/index.js'));
    const names = ['PORTKEY_MODULE_OPTIONS', 'PortkeyContextService', 'PortkeyMetadata', 'PortkeyModule', 'PortkeyTraceId'];
    expect(out.esm).toEqual(names);
    expect(out.cjs).toEqual(names);
  });
});
