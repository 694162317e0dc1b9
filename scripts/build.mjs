// Builds dist/: ESM (dist/esm), CJS (dist/cjs, with its own package.json and .d.ts copies so
// `require` resolves CommonJS types) and declarations (dist/types) from tsc.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const roots = ['src', 'integrations'];
const entryPoints = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) entryPoints.push(full);
  }
};
roots.forEach(walk);

rmSync('dist', { recursive: true, force: true });
const common = { entryPoints, outbase: '.', bundle: false, platform: 'node', target: 'node20', sourcemap: false, tsconfig: 'tsconfig.build.json', logLevel: 'warning' };
await build({ ...common, format: 'esm', outdir: 'dist/esm' });
await build({ ...common, format: 'cjs', outdir: 'dist/cjs' });
writeFileSync('dist/cjs/package.json', '{\n  "type": "commonjs"\n}\n');

execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
cpSync('dist/types', 'dist/cjs', { recursive: true });
console.log(`built ${entryPoints.length} modules into dist/esm, dist/cjs and dist/types`);
