// Every ```ts block of README.md is typechecked, as a module importing the built package, in one tsc
// run. Conventions (file names, `<!-- check: prelude … -->`, `<!-- check: skip (reason) -->`) are in
// ./markdown-blocks.ts.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractBlocks, isTypeScript, type MarkdownBlock, type TypecheckResult, typecheckBlocks, where } from './markdown-blocks.js';

const root = join(import.meta.dirname, '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const readmeBlocks = extractBlocks(readFileSync(join(root, 'README.md'), 'utf8'), 'README.md').filter(isTypeScript);

// Proves the conventions and the line mapping, in the same tsc run as the README.
const FIXTURE = [
  '# Fixture', //                                                1
  '', //                                                         2
  '```ts', //                                                    3
  "const n: number = 'not a number';", //                        4
  '```', //                                                      5
  '<!-- check: prelude', //                                      6
  "import { portkeyHeaders } from 'portkey-context';", //        7
  "const wrong: number = 'prelude';", //                         8
  '-->', //                                                      9
  '```ts', //                                                    10
  'const headers: Record<string, string> = portkeyHeaders();', //11
  'headers.nope.length;', //                                     12
  '```', //                                                      13
  '<!-- check: skip (not TypeScript at all) -->', //             14
  '', //                                                         15
  '```ts', //                                                    16
  'this is not code', //                                         17
  '```', //                                                      18
  '```ts', //                                                    19
  '// shared.ts', //                                             20
  'export const answer = 42;', //                                21
  '```', //                                                      22
  '```ts', //                                                    23
  "import { answer } from './shared.js';", //                    24
  'const text: string = answer;', //                             25
  '```', //                                                      26
].join('\n');
const fixtureBlocks = extractBlocks(FIXTURE, 'FIXTURE.md');

let work: string;
let result: TypecheckResult;

beforeAll(() => {
  // Inside the package (not os.tmpdir()): `portkey-context` resolves to dist/ by the package's self-reference.
  work = mkdtempSync(join(import.meta.dirname, '.tmp-blocks-'));
  result = typecheckBlocks([...readmeBlocks, ...fixtureBlocks], work, tsc);
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('README.md ```ts blocks typecheck against the built package (one tsc run)', () => {
  it('the package is built: the blocks import dist/ (npm test builds first)', () => {
    expect(existsSync(join(root, 'dist/types/src/index.d.ts')), 'dist/ is missing: run npm run build').toBe(true);
  });

  it('README.md has its blocks, and each skipped one says why', () => {
    expect(readmeBlocks.length).toBeGreaterThanOrEqual(10);
    for (const block of readmeBlocks) if (block.skip !== undefined) expect(block.skip.trim(), where(block)).not.toBe('');
  });

  it('tsc reported nothing outside the blocks (configuration, libraries)', () => {
    expect(result.other, result.other.join('\n')).toEqual([]);
  });

  it.each(readmeBlocks.filter((b) => !b.skip).map((b) => [where(b), b] as [string, MarkdownBlock]))('%s', (_name, block) => {
    const errors = result.errors.get(block) ?? [];
    expect(errors, `${errors.join('\n')}\n(checked against dist/: run npm run build after changing src/ or integrations/)`).toEqual([]);
  });

  it('the check itself: an error names its Markdown line, preludes and named files work, skipped blocks are not checked', () => {
    const [plain, withPrelude, skipped, shared, importer] = fixtureBlocks;
    expect(fixtureBlocks).toHaveLength(5);
    expect(result.errors.get(plain!)).toEqual([
      "FIXTURE.md:4:7: error TS2322: Type 'string' is not assignable to type 'number'.",
    ]);
    expect(withPrelude!.prelude).toEqual({ line: 7, code: "import { portkeyHeaders } from 'portkey-context';\nconst wrong: number = 'prelude';" });
    expect(result.errors.get(withPrelude!)).toEqual([
      "FIXTURE.md:8:7 (in the check: prelude): error TS2322: Type 'string' is not assignable to type 'number'.",
      "FIXTURE.md:12:1: error TS18048: 'headers.nope' is possibly 'undefined'.",
    ]);
    expect(skipped!.skip).toBe('not TypeScript at all');
    expect(result.errors.has(skipped!)).toBe(false);
    expect(shared!.fileName).toBe('shared.ts');
    expect(result.errors.has(shared!)).toBe(false);
    expect(result.errors.get(importer!)).toEqual(["FIXTURE.md:25:7: error TS2322: Type 'number' is not assignable to type 'string'."]);
    expect(result.ms).toBeLessThan(20_000);
  });
});
