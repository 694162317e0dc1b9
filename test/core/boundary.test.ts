import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtinModules } from 'node:module';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

function imports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  return [...text.matchAll(/(?:^|\s)(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/gm)].map(
    (m) => (m[1] ?? m[2] ?? m[3])!,
  );
}

describe('package boundaries', () => {
  it('the core (src/) imports Node built-ins and itself only', () => {
    const files = sources('src');
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      for (const spec of imports(file)) {
        const ok = (spec.startsWith('./') && !spec.includes('..')) || spec.startsWith('node:') || builtinModules.includes(spec);
        expect(ok, `${file} imports "${spec}"`).toBe(true);
      }
    }
  });

  it('each integration imports the core and no other integration', () => {
    for (const name of readdirSync(join(root, 'integrations'))) {
      for (const file of sources(join('integrations', name))) {
        for (const spec of imports(file)) {
          if (spec.startsWith('../')) expect(spec, `${file} imports "${spec}"`).toMatch(/^\.\.\/\.\.\/src\//);
        }
      }
    }
  });

  it('the Express integration needs no run-time import of express', () => {
    for (const file of sources('integrations/express')) {
      const text = readFileSync(join(root, file), 'utf8');
      expect(text).not.toMatch(/from ['"]express['"]/);
    }
  });
});
