import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

it('`npm run demo` works as the README says: each call reaches the gateway with its own trace ID and user', async () => {
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = execFile('npm', ['run', '--silent', 'demo'], { cwd: root, timeout: 60_000 }, (error, stdout) =>
      resolve({ code: error ? ((error as any).code ?? 1) : 0, stdout }),
    );
    child.stdin?.end();
  });
  expect(stdout).toContain("Every call reached the gateway with its own request's trace ID and user.");
  expect(stdout).toMatch(/trace=demo-alice-2 _user=alice _organisation=acme/);
  expect(stdout).toMatch(/trace=demo-bob-1 _user=bob _organisation=globex/);
  expect(code).toBe(0);
}, 90_000);
