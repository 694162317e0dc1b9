/**
 * Runs test/bullmq/worker.ts in a process of its own (node --import tsx), as a real deployment runs
 * its workers apart from the web app.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerConfig } from './worker.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

export interface WorkerProcess {
  pid: number;
  /** Everything the worker printed (stdout and stderr), process warnings included. */
  output(): string;
  /** Cancels a job the worker is running (`worker.cancelJob`). */
  cancel(jobId: string): void;
  /** Closes the worker (`worker.close()`), killing it if it does not exit within 5 s. */
  stop(): Promise<void>;
}

export async function startWorkerProcess(config: WorkerConfig): Promise<WorkerProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(here, 'worker.ts')], {
    cwd: root, // tsx reads tsconfig.json's paths from here (`portkey-context`, `portkey-context/langchain`)
    env: { ...process.env, BULLMQ_TEST_WORKER: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (child.connected) child.send({ close: true });
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the worker did not start in 20 s:\n${output}`)), 20_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the worker exited with ${code}:\n${output}`));
      });
      child.on('message', (message: { ready?: boolean }) => {
        if (message?.ready) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return { pid: child.pid!, output: () => output, cancel: (jobId) => child.send({ cancel: jobId }), stop };
}
