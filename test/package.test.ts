// Packs the package as npm would publish it and installs it next to Express alone: the Express entry
// must work, in ESM and CJS, with no NestJS, LangChain, openai or AI SDK installed (they are optional peers).
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

it('an Express-only install of the packed package works, in ESM and CJS, without Nest, LangChain, openai or the AI SDK', () => {
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
  expect(existsSync(join(app, 'node_modules', 'openai'))).toBe(false);
  expect(existsSync(join(app, 'node_modules', 'ai'))).toBe(false);
  expect(existsSync(join(app, 'node_modules', '@ai-sdk'))).toBe(false);
  const env = { ...process.env, NODE_ENV: 'production', PORTKEY_API_KEY: '' };
  const out = JSON.parse(execFileSync(process.execPath, ['main.js'], { cwd: app, encoding: 'utf8', env }));
  // An entry point whose optional peers are missing fails at import with Node's error naming the
  // package to install (npm then installs its own peers: @langchain/core, @nestjs/common).
  const missing = `
    for (const entry of ['portkey-context/langchain', 'portkey-context/nestjs', 'portkey-context/openai', 'portkey-context/ai-sdk']) {
      const esm = await import(entry).then(() => 'loaded', (e) => e.code + ' ' + e.message.split('\\n')[0]);
      let cjs;
      try { require(entry); cjs = 'loaded'; } catch (e) { cjs = e.code + ' ' + e.message.split('\\n')[0]; }
      console.log(JSON.stringify({ entry, esm, cjs }));
    }`;
  writeFileSync(join(app, 'missing.mjs'), `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);${missing}`);
  const lines = execFileSync(process.execPath, ['missing.mjs'], { cwd: app, encoding: 'utf8', env }).trim().split('\n').map((l) => JSON.parse(l));
  const peers: Record<string, RegExp> = {
    'portkey-context/langchain': /'?@langchain\/(openai|core)'?/,
    'portkey-context/nestjs': /'?@nestjs\/(common|core)'?/,
    'portkey-context/openai': /'?openai'?/,
    'portkey-context/ai-sdk': /'?@ai-sdk\/openai-compatible'?/,
  };
  for (const { entry, esm, cjs } of lines) {
    expect(esm).toMatch(/^ERR_MODULE_NOT_FOUND Cannot find (package|module)/);
    expect(esm).toMatch(peers[entry]!);
    expect(cjs).toMatch(/^MODULE_NOT_FOUND Cannot find module/);
    expect(cjs).toMatch(peers[entry]!);
  }
  expect(out.traceId).toBe('packed-1');
  expect(out.headers).toEqual({
    'x-portkey-api-key': 'pk-packed',
    'x-portkey-trace-id': 'packed-1',
    'x-portkey-metadata': '{"_environment":"production"}',
  });
}, 180_000);
