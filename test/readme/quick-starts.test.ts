// The README's quick starts run as pasted: each block is written to a file verbatim and run with tsx in a
// child process, against the real Portkey gateway (behind a recording proxy) and a stub LLM, with only
// PORTKEY_API_KEY / PORTKEY_BASE_URL / PORTKEY_CONFIG in its environment. What is asserted is what reached
// the gateway (the proxy's record) and what came back to the client.
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayStack, type RecordedGatewayRequest, startGatewayStack } from '../harness/index.js';
import { extractBlocks, isTypeScript, type MarkdownBlock, where, writeBlocksTsconfig } from './markdown-blocks.js';

const root = join(import.meta.dirname, '..', '..');
const blocks = extractBlocks(readFileSync(join(root, 'README.md'), 'utf8'), 'README.md').filter(isTypeScript);
const preload = pathToFileURL(join(import.meta.dirname, 'listen-on-free-port.mjs')).href;

/** The ```ts blocks right under `## <heading>`. */
function section(heading: string): MarkdownBlock[] {
  const found = blocks.filter((b) => b.heading === heading);
  if (!found.length) throw new Error(`README.md has no \`\`\`ts block under "## ${heading}"`);
  return found;
}

/** Nest's own `main.ts` (as `nest new` writes it): the README's module block is imported by it. */
const NEST_MAIN = `import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

async function bootstrap() {
  const app = await NestFactory.create(AppModule);
  await app.listen(process.env.PORT ?? 3000);
}
bootstrap();
`;

let stack: GatewayStack;
let work: string;
let portkeyConfig: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  stack = await startGatewayStack();
  // Inside the package: the quick starts import `portkey-context` as an app would, resolved to dist/.
  work = mkdtempSync(join(import.meta.dirname, '.tmp-quick-starts-'));
  // The open-source gateway's routing: an inline config (the hosted gateway also takes a config ID).
  portkeyConfig = JSON.stringify({ provider: 'openai', api_key: 'sk-readme-provider', custom_host: stack.stub.baseURL });
});

afterAll(async () => {
  await Promise.all(
    children.map((child) => (child.exitCode !== null || child.signalCode !== null ? undefined : new Promise((r) => child.once('exit', r).kill()))),
  );
  await stack?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

interface RunningApp {
  url: string;
  output: () => string;
}

/** Writes `files` into a folder of their own and runs `main` with tsx; resolves once it listens. */
async function runApp(name: string, files: Record<string, string>, main: string): Promise<RunningApp> {
  const dir = join(work, name);
  mkdirSync(dir);
  writeBlocksTsconfig(dir); // experimentalDecorators for tsx, as a Nest project's tsconfig has it
  for (const [file, code] of Object.entries(files)) writeFileSync(join(dir, file), code);

  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const key of Object.keys(env)) if (/^(PORTKEY|OPENAI)_/.test(key)) delete env[key];
  Object.assign(env, { PORTKEY_API_KEY: 'pk-readme-test', PORTKEY_BASE_URL: stack.baseURL, PORTKEY_CONFIG: portkeyConfig });

  const child = fork(main, [], { cwd: dir, env, execArgv: ['--import', 'tsx', '--import', preload], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not listen within 20 s:\n${output}`)), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before listening:\n${output}`));
    });
    child.on('message', (m: any) => {
      if (m?.type !== 'listening') return;
      clearTimeout(timer);
      resolve(m.port);
    });
  });
  return { url: `http://127.0.0.1:${port}`, output: () => output };
}

/** A block run as pasted, with `app.listen(3000)` added only if it has no `listen(` call of its own. */
function asPasted(block: MarkdownBlock): string {
  return /\.listen\(/.test(block.code) ? `${block.code}\n` : `${block.code}\napp.listen(3000);\n`;
}

async function post(app: RunningApp, path: string, question: string, headers: Record<string, string>) {
  const res = await fetch(`${app.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ question }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** The one request that reached the gateway under `traceId`, with the checks every quick start shares. */
function gatewayRequest(traceId: string, user: string): RecordedGatewayRequest {
  const sent = stack.gatewayRequests.filter((r) => r.headers['x-portkey-trace-id'] === traceId);
  expect(sent, `gateway requests with trace ID ${traceId}`).toHaveLength(1);
  const request = sent[0]!;
  expect(request.method).toBe('POST');
  expect(request.path).toBe('/v1/chat/completions');
  expect(request.headers['x-portkey-api-key']).toBe('pk-readme-test');
  expect(request.headers['x-portkey-config']).toBe(portkeyConfig);
  expect(JSON.parse(String(request.headers['x-portkey-metadata']))).toMatchObject({ _user: user });
  expect(request.response?.status).toBe(200);
  return request;
}

/** The stub LLM (behind the gateway) answered `question`: the routing came from PORTKEY_CONFIG. */
function stubSaw(question: string) {
  const seen = stack.stub.requests.filter((r) => r.body?.messages?.at(-1)?.content === question);
  expect(seen, `the stub LLM received "${question}"`).toHaveLength(1);
  expect(seen[0]!.headers.authorization).toBe('Bearer sk-readme-provider');
}

describe.concurrent('README quick starts, run as pasted against the real gateway', () => {
  it('Quick start: Express', async () => {
    const [block] = section('Quick start: Express');
    const app = await runApp('express', { 'server.ts': asPasted(block!) }, 'server.ts');
    const question = 'Express: what is the gateway?';
    const res = await post(app, '/ask', question, { 'x-request-id': 'readme-express-1', 'x-demo-user': 'ada' });

    expect(res.status, `${where(block!)}: ${res.text}\n${app.output()}`).toBe(200);
    expect(res.headers.get('x-portkey-trace-id')).toBe('readme-express-1');
    expect(JSON.parse(res.text).choices[0].message.content).toBe(`echo: ${question}`);
    const sent = gatewayRequest('readme-express-1', 'ada');
    expect(sent.body.messages).toEqual([{ role: 'user', content: question }]);
    stubSaw(question);
  });

  it('Quick start: NestJS (app.module.ts + ask.controller.ts, with the main.ts of `nest new`)', async () => {
    const named = section('Quick start: NestJS').filter((b) => b.fileName);
    expect(named.map((b) => b.fileName).sort()).toEqual(['app.module.ts', 'ask.controller.ts']);
    const files = Object.fromEntries(named.map((b) => [b.fileName!, `${b.code}\n`]));
    const app = await runApp('nestjs', { ...files, 'main.ts': NEST_MAIN }, 'main.ts');
    const question = 'NestJS: what is the gateway?';
    const res = await post(app, '/ask', question, { 'x-request-id': 'readme-nest-1', 'x-demo-user': 'grace' });

    expect(res.status, `${named.map(where).join(', ')}: ${res.text}\n${app.output()}`).toBe(201);
    expect(res.headers.get('x-portkey-trace-id')).toBe('readme-nest-1');
    const body = JSON.parse(res.text);
    expect(body).toMatchObject({ traceId: 'readme-nest-1', user: 'grace' });
    expect(body.answer.choices[0].message.content).toBe(`echo: ${question}`);
    const sent = gatewayRequest('readme-nest-1', 'grace');
    expect(JSON.parse(String(sent.headers['x-portkey-metadata']))).toMatchObject({ app: 'support' });
    stubSaw(question);
  });

  it('Quick start: the `openai` SDK', async () => {
    const [block] = section('Quick start: the `openai` SDK');
    const app = await runApp('openai', { 'server.ts': asPasted(block!) }, 'server.ts');
    const question = 'openai: what is the gateway?';
    const res = await post(app, '/ask', question, { 'x-request-id': 'readme-openai-1', 'x-demo-user': 'linus' });

    expect(res.status, `${where(block!)}: ${res.text}\n${app.output()}`).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ answer: `echo: ${question}` });
    expect(gatewayRequest('readme-openai-1', 'linus').headers.authorization).toBeUndefined(); // provider auth is in the config
    stubSaw(question);
  });

  it('Quick start: Vercel AI SDK (generateText and streamText)', async () => {
    const [block] = section('Quick start: Vercel AI SDK');
    const app = await runApp('ai-sdk', { 'server.ts': asPasted(block!) }, 'server.ts');
    const question = 'AI SDK: what is the gateway?';
    const res = await post(app, '/chat', question, { 'x-request-id': 'readme-ai-sdk-1', 'x-demo-user': 'ada' });

    expect(res.status, `${where(block!)}: ${res.text}\n${app.output()}`).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ answer: `echo: ${question}`, trace: 'readme-ai-sdk-1' });
    expect(gatewayRequest('readme-ai-sdk-1', 'ada').headers.authorization).toBeUndefined(); // provider auth is in the config
    stubSaw(question);

    const streamed = 'AI SDK: and streamed?';
    const stream = await post(app, '/chat/stream', streamed, { 'x-request-id': 'readme-ai-sdk-2', 'x-demo-user': 'ada' });
    expect(stream.status, `${where(block!)}: ${stream.text}\n${app.output()}`).toBe(200);
    expect(stream.text).toBe(`echo: ${streamed}`);
    expect(gatewayRequest('readme-ai-sdk-2', 'ada').body).toMatchObject({ stream: true });
    stubSaw(streamed);
  });

  it("Portkey's SDK (portkey-ai): one call, and one in a scope with its own metadata", async () => {
    const [block] = section("Portkey's SDK (`portkey-ai`)");
    const app = await runApp('portkey-ai', { 'server.ts': asPasted(block!) }, 'server.ts');
    const question = 'portkey-ai: what is the gateway?';
    const res = await post(app, '/ask', question, { 'x-request-id': 'readme-portkey-ai-1', 'x-demo-user': 'grace' });

    expect(res.status, `${where(block!)}: ${res.text}\n${app.output()}`).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ answer: `echo: ${question}`, traceId: 'readme-portkey-ai-1', summary: 'echo: Summarize' });
    const sent = stack.gatewayRequests.filter((r) => r.headers['x-portkey-trace-id'] === 'readme-portkey-ai-1');
    expect(sent.map((r) => JSON.parse(String(r.headers['x-portkey-metadata'])))).toEqual([
      expect.objectContaining({ _user: 'grace' }),
      expect.objectContaining({ _user: 'grace', feature: 'summary' }),
    ]);
    expect(JSON.parse(String(sent[0]!.headers['x-portkey-metadata'])).feature).toBeUndefined();
    for (const r of sent) expect(r.headers['x-portkey-config']).toBe(portkeyConfig);
    stubSaw(question);
  });

  it('Quick start: LangChain (invoke and stream)', async () => {
    const [block] = section('Quick start: LangChain');
    const app = await runApp('langchain', { 'server.ts': asPasted(block!) }, 'server.ts');
    const question = 'LangChain: what is the gateway?';
    const res = await post(app, '/chat', question, { 'x-request-id': 'readme-langchain-1', 'x-demo-user': 'alan' });

    expect(res.status, `${where(block!)}: ${res.text}\n${app.output()}`).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ answer: `echo: ${question}`, trace: 'readme-langchain-1' });
    expect(gatewayRequest('readme-langchain-1', 'alan').body).toMatchObject({ model: 'gpt-4o-mini' });
    stubSaw(question);

    const streamed = 'LangChain: and streamed?';
    const stream = await post(app, '/chat/stream', streamed, { 'x-request-id': 'readme-langchain-2', 'x-demo-user': 'alan' });
    expect(stream.status, `${where(block!)}: ${stream.text}\n${app.output()}`).toBe(200);
    const chunks = [...stream.text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!));
    expect(chunks.join('')).toBe(`echo: ${streamed}`);
    expect(gatewayRequest('readme-langchain-2', 'alan').body).toMatchObject({ stream: true });
    stubSaw(streamed);
  });
});
