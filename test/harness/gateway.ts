/**
 * Starts the real open-source Portkey gateway (`@portkey-ai/gateway` from npm) on 127.0.0.1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export interface Gateway {
  /** `http://127.0.0.1:PORT` */
  url: string;
  close(): Promise<void>;
}

function gatewayEntry(): string {
  const pkg = require.resolve('@portkey-ai/gateway/package.json');
  return join(dirname(pkg), 'build', 'start-server.js');
}

/** Spawns the gateway with a preload that pins it to 127.0.0.1, and waits until `GET /` answers. */
export async function startGateway(): Promise<Gateway> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', join(here, 'loopback-only.mjs'), gatewayEntry(), '--port=0', '--headless'],
    { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, NODE_ENV: 'test' } },
  );
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start in 15 s:\n${output}`)), 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}:\n${output}`));
    });
    child.on('message', (m: any) => {
      if (m?.type === 'listening') {
        clearTimeout(timer);
        resolve(m.port);
      }
    });
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(`${url}/`);
      if (res.ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
