// Packs the package as npm would publish it and installs it next to Express alone: the Express entry
// must work, in ESM and CJS, with no NestJS or LangChain installed (they are optional peers).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'portkey-context-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const consumer = `
import { createRequire } from 'node:module';
import express from 'express';
import { portkeyHeaders } from 'portkey-context';
import { portkeyMiddleware } from 'portkey-context/express';
const require = createRequire(import.meta.url);
const cjs = require('portkey-context/express');
const app = express();
app.use(typeof cjs.portkeyMiddleware === 'function' ? portkeyMiddleware({ apiKey: 'pk-packed' }) : null);
app.get('/', (req, res) => res.json({ traceId: req.portkey.traceId, headers: portkeyHeaders() }));
const server = app.listen(0, '127.0.0.1', async () => {
  const res = await fetch('http://127.0.0.1:' + server.address().port + '/', { headers: { 'x-request-id': 'packed-1' } });
  console.log(JSON.stringify(await res.json()));
  server.close();
});
`;

it('an Express-only install of the packed package works, in ESM and CJS, without Nest or LangChain', () => {
  if (!existsSync(join(root, 'dist'))) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
  execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: root, stdio: 'ignore' });
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
  const app = join(work, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  writeFileSync(join(app, 'main.js'), consumer);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', join(work, tarball), 'express@5.3.0'], {
    cwd: app,
    stdio: 'ignore',
  });
  expect(existsSync(join(app, 'node_modules', '@nestjs'))).toBe(false);
  expect(existsSync(join(app, 'node_modules', '@langchain'))).toBe(false);
  const env = { ...process.env, NODE_ENV: 'production', PORTKEY_API_KEY: '' };
  const out = JSON.parse(execFileSync(process.execPath, ['main.js'], { cwd: app, encoding: 'utf8', env }));
  expect(out.traceId).toBe('packed-1');
  expect(out.headers).toEqual({
    'x-portkey-api-key': 'pk-packed',
    'x-portkey-trace-id': 'packed-1',
    'x-portkey-metadata': '{"_environment":"production"}',
  });
}, 180_000);
