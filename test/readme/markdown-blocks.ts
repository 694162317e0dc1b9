/**
 * README code blocks as modules: extraction, the `<!-- check: … -->` conventions, and one `tsc` run
 * over every block whose errors are mapped back to the Markdown line they come from.
 *
 * Conventions (in the Markdown):
 * - every ```ts block is a module, typechecked against the built package (`portkey-context` resolves
 *   to `dist/` through the package's own `exports`, as an installed package would);
 * - a block whose first line is `// some-name.ts` is written under that name, so blocks of one file
 *   can import each other (`import { AskController } from './ask.controller.js'`); the others are
 *   `L<line>.ts`;
 * - `<!-- check: prelude … -->` right before a block (blank lines allowed in between): invisible code
 *   put before the block, for fragments that use names from another block (`model`, `app`);
 * - `<!-- check: skip (reason) -->` right before a block: not checked; the reason is required.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MarkdownBlock {
  /** Name of the Markdown file, for messages (`README.md`). */
  source: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  code: string;
  /** The nearest heading above the block. */
  heading: string;
  /** `// name.ts` on the block's first line. */
  fileName?: string;
  /** From `<!-- check: prelude … -->`: the code, and the 1-based Markdown line of its first code line. */
  prelude?: { code: string; line: number };
  /** From `<!-- check: skip (reason) -->`. */
  skip?: string;
}

const FENCE_OPEN = /^```([\w-]*)\s*$/;
const FENCE_CLOSE = /^```\s*$/;
const FILE_NAME = /^\/\/ ([\w.-]+\.ts)\s*$/;
const HEADING = /^#{1,6} (.*)$/;

/** A TypeScript block: ```ts (or ```typescript). */
export function isTypeScript(block: MarkdownBlock): boolean {
  return block.lang === 'ts' || block.lang === 'typescript';
}

/** Where a block is, for messages: `README.md:38 ("Quick start: Express")`. */
export function where(block: MarkdownBlock): string {
  return `${block.source}:${block.line} ("${block.heading}")`;
}

/** The fenced blocks of `markdown` (all languages), with the check directives that precede them. */
export function extractBlocks(markdown: string, source: string): MarkdownBlock[] {
  const lines = markdown.split('\n');
  const blocks: MarkdownBlock[] = [];
  let heading = '';
  let pending: { prelude?: { code: string; line: number }; skip?: string; endLine: number } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    const title = HEADING.exec(text);
    if (title) heading = title[1]!.trim();

    if (text.startsWith('<!-- check:')) {
      const start = i;
      while (!lines[i]!.includes('-->')) {
        i++;
        if (i >= lines.length) throw new Error(`${source}:${start + 1}: unterminated <!-- check: … --> comment`);
      }
      const body = lines.slice(start, i + 1).join('\n').replace(/^<!-- check:/, '').replace(/-->\s*$/, '');
      const directive = body.trimStart();
      if (directive.startsWith('prelude')) {
        // The code starts on the line after `<!-- check: prelude` (or on it, after the word).
        const code = directive.slice('prelude'.length);
        const firstLine = /^[ \t]*\n/.test(code) ? start + 2 : start + 1;
        pending = { prelude: { code: code.replace(/^[ \t]*\n/, '').trimEnd(), line: firstLine }, endLine: i };
      } else {
        const skip = /^skip \((.+)\)\s*$/s.exec(directive.trim());
        if (!skip) {
          throw new Error(`${source}:${start + 1}: unknown check directive "${directive.trim().slice(0, 40)}": use "prelude …" or "skip (reason)"`);
        }
        pending = { skip: skip[1]!, endLine: i };
      }
      continue;
    }

    const open = FENCE_OPEN.exec(text);
    if (!open) {
      if (pending && text.trim() !== '') throw new Error(`${source}:${pending.endLine + 1}: a check directive must come right before a code block`);
      continue;
    }
    const line = i + 1;
    const body: string[] = [];
    for (i++; i < lines.length && !FENCE_CLOSE.test(lines[i]!); i++) body.push(lines[i]!);
    if (i >= lines.length) throw new Error(`${source}:${line}: unterminated code block`);
    const code = body.join('\n');
    blocks.push({
      source,
      line,
      lang: open[1] ?? '',
      code,
      heading,
      fileName: FILE_NAME.exec(body[0] ?? '')?.[1],
      ...(pending?.prelude ? { prelude: pending.prelude } : {}),
      ...(pending?.skip ? { skip: pending.skip } : {}),
    });
    pending = undefined;
  }
  if (pending) throw new Error(`${source}:${pending.endLine + 1}: a check directive must come right before a code block`);
  return blocks;
}

/** The compiler options every block is checked with: the repo's own (strict), as an ES module importing the built package. */
const BLOCKS_TSCONFIG = {
  compilerOptions: {
    target: 'es2022',
    lib: ['es2023'],
    module: 'nodenext',
    moduleResolution: 'nodenext',
    moduleDetection: 'force', // a block without imports is still its own module
    rootDir: '.',
    strict: true,
    noUncheckedIndexedAccess: true,
    noImplicitOverride: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    esModuleInterop: true,
    isolatedModules: true,
    skipLibCheck: true,
    types: ['node'],
    noEmit: true,
  },
  include: ['**/*.ts'],
};

/** Writes the compiler options for blocks into `dir` (also what `tsx` reads when a block runs there). */
export function writeBlocksTsconfig(dir: string): void {
  writeFileSync(join(dir, 'tsconfig.json'), `${JSON.stringify(BLOCKS_TSCONFIG, null, 2)}\n`);
}

export interface TypecheckResult {
  /** Errors per block, each naming its Markdown line: `README.md:42:7: error TS2304: Cannot find name 'passport'.` */
  errors: Map<MarkdownBlock, string[]>;
  /** Errors that are in no block (configuration, a library): the whole check is broken. */
  other: string[];
  /** How long the one `tsc` run took, ms. */
  ms: number;
}

interface Placed {
  block: MarkdownBlock;
  preludeLines: number;
}

/**
 * Typechecks `blocks` (skipped ones left out) with ONE `tsc` run in `dir`, which must sit inside the
 * package so `portkey-context` self-resolves; each Markdown source gets its own folder there.
 */
export function typecheckBlocks(blocks: MarkdownBlock[], dir: string, tscPath: string): TypecheckResult {
  writeBlocksTsconfig(dir);
  const files = new Map<string, Placed>();
  for (const block of blocks) {
    if (block.skip) continue;
    const folder = block.source.replace(/[^\w-]/g, '_');
    const file = `${folder}/${block.fileName ?? `L${block.line}.ts`}`;
    const clash = files.get(file);
    if (clash) throw new Error(`${where(block)} and ${where(clash.block)} both name the file ${block.fileName}`);
    const prelude = block.prelude ? `${block.prelude.code}\n` : '';
    mkdirSync(join(dir, folder), { recursive: true });
    writeFileSync(join(dir, file), `${prelude}${block.code}\n`);
    files.set(file, { block, preludeLines: prelude ? prelude.split('\n').length - 1 : 0 });
  }

  const started = performance.now();
  const run = spawnSync(process.execPath, [tscPath, '-p', 'tsconfig.json', '--pretty', 'false'], { cwd: dir, encoding: 'utf8' });
  const ms = performance.now() - started;
  if (run.error) throw run.error;

  const errors = new Map<MarkdownBlock, string[]>();
  const other: string[] = [];
  // `file(line,col): error TSnnnn: message`, continuation lines indented.
  const diagnostics: string[] = [];
  for (const text of `${run.stdout}${run.stderr}`.split('\n')) {
    if (/^\s/.test(text) && diagnostics.length) diagnostics[diagnostics.length - 1] += `\n${text}`;
    else if (text.trim()) diagnostics.push(text);
  }
  for (const diagnostic of diagnostics) {
    const at = /^(.+?)\((\d+),(\d+)\): (.*)$/s.exec(diagnostic);
    const placed = at ? files.get(at[1]!.replaceAll('\\', '/')) : undefined;
    if (!at || !placed) {
      other.push(diagnostic);
      continue;
    }
    const { block, preludeLines } = placed;
    const fileLine = Number(at[2]);
    const markdownLine =
      fileLine <= preludeLines ? `${block.prelude!.line + fileLine - 1}:${at[3]} (in the check: prelude)` : `${block.line + fileLine - preludeLines}:${at[3]}`;
    const list = errors.get(block) ?? [];
    list.push(`${block.source}:${markdownLine}: ${at[4]}`);
    errors.set(block, list);
  }
  if (run.status !== 0 && errors.size === 0 && other.length === 0) other.push(`tsc exited with ${run.status} and printed nothing`);
  return { errors, other, ms };
}
