// The compatibility matrix: which dependency sets are installed (exact versions), and which checks
// run on each set under which Node versions. One install per set; its node_modules are pure JS, so
// the same install runs under several Node versions.

/**
 * Node binaries from the npm registry (`node@X`), installed once into the cache. A major that is
 * the machine's own (Node 20 here) runs on the machine's `node` instead.
 */
export const NODE_BINARIES = { 20: '20.20.2', 22: '22.23.3', 24: '24.21.0' };

const nest = (core, fastify = core) => ({
  '@nestjs/common': core,
  '@nestjs/core': core,
  '@nestjs/platform-express': core,
  '@nestjs/platform-fastify': fastify,
  'reflect-metadata': '0.2.2',
  rxjs: '7.8.2',
});

/**
 * Dependency sets. `report` names installed packages shown in the table besides the pinned ones
 * (transitive versions a consumer gets: `openai` under @langchain/openai, `fastify`).
 * floor: LangChain at the peer floor with the latest Express 4; latest: everything at its latest;
 * nestN: the latest Nest N; nestN.0 and expressN.x: the oldest release of each major.
 */
export const SETS = {
  floor: {
    deps: { express: '4.22.3', '@langchain/core': '1.0.0', '@langchain/openai': '1.0.0' },
    report: ['openai'],
  },
  latest: {
    deps: { express: '5.3.0', '@langchain/core': '1.4.0', '@langchain/openai': '1.6.0' },
    report: ['openai'],
  },
  nest10: { deps: nest('10.4.22'), report: ['fastify', 'express'] },
  nest11: { deps: nest('11.2.10', '11.2.8'), report: ['fastify', 'express'] },
  nest12: { deps: nest('12.5.1', '12.5.0'), report: ['fastify', 'express'] },
  // Nest 10.0.0 wants reflect-metadata ^0.1.12. Upstream peer slips: platform-fastify 11.0.0-11.0.2
  // declare Nest 10 peers (11.0.3 is the first that installs with Nest 11); core 12.0.0 declares
  // common ^11 and platform-fastify 12.0.0 does not exist, so Nest 12's floor is 12.0.1.
  'nest10.0': { deps: { ...nest('10.0.0'), 'reflect-metadata': '0.1.14' }, report: ['fastify', 'express'] },
  'nest11.0': { deps: nest('11.0.0', '11.0.3'), report: ['fastify', 'express'] },
  'nest12.0': { deps: nest('12.0.1'), report: ['fastify', 'express'] },
  // The Vercel AI SDK: ai 6 with @ai-sdk/openai-compatible 2.x (provider spec v3, Node >= 18) and
  // ai 7 with 3.x (spec v4, Node >= 22). `report` shows the spec package each resolves.
  ai6: { deps: { express: '5.3.0', ai: '6.0.325', '@ai-sdk/openai-compatible': '2.0.92' }, report: ['@ai-sdk/provider'] },
  ai7: { deps: { express: '5.3.0', ai: '7.0.173', '@ai-sdk/openai-compatible': '3.0.92' }, report: ['@ai-sdk/provider'] },
  // The `openai` SDK at its latest 6.x (7.x is in `latest`, under @langchain/openai).
  openai6: { deps: { express: '5.3.0', openai: '6.49.0' }, report: [] },
  'express4.18': { deps: { express: '4.18.0' }, report: [] },
  'express5.0': { deps: { express: '5.0.0' }, report: [] },
  types: {
    deps: {
      express: '5.3.0',
      '@types/express': '5.0.6',
      '@types/node': '22.20.5',
      '@nestjs/common': '12.5.1',
      '@nestjs/core': '12.5.1',
      'reflect-metadata': '0.2.2',
      rxjs: '7.8.2',
      '@langchain/core': '1.4.0',
      '@langchain/openai': '1.6.0',
      typescript: '5.9.3',
    },
    report: [],
  },
};

/**
 * Checks: `app` is a file of compat/apps run as `node APP FORMAT` (FORMAT: cjs = require(),
 * esm = import()); `tsc` is a typecheck of compat/types with a tsconfig. `nodes` are Node majors.
 * @langchain/openai 1.6.0 declares engines node >= 22, so the latest LangChain runs on 22 and 24.
 */
export const CHECKS = [
  { set: 'floor', app: 'express', formats: ['cjs', 'esm'], nodes: [20, 24] },
  { set: 'floor', app: 'langchain', formats: ['cjs', 'esm'], nodes: [20, 24] },
  { set: 'latest', app: 'express', formats: ['cjs', 'esm'], nodes: [20, 22, 24] },
  { set: 'latest', app: 'langchain', formats: ['cjs', 'esm'], nodes: [22, 24] },
  { set: 'nest10', app: 'nest', formats: ['cjs', 'esm'], nodes: [20, 22] },
  { set: 'nest11', app: 'nest', formats: ['cjs', 'esm'], nodes: [20, 24] },
  { set: 'nest12', app: 'nest', formats: ['cjs', 'esm'], nodes: [20, 22, 24] },
  { set: 'nest10.0', app: 'nest', formats: ['cjs', 'esm'], nodes: [20] },
  { set: 'nest11.0', app: 'nest', formats: ['cjs', 'esm'], nodes: [20] },
  { set: 'nest12.0', app: 'nest', formats: ['cjs', 'esm'], nodes: [20] },
  { set: 'ai6', app: 'ai-sdk', formats: ['cjs', 'esm'], nodes: [20, 24] },
  // ai 7 and @ai-sdk/openai-compatible 3 declare engines node >= 22 (and are ES modules only: require() of ESM).
  { set: 'ai7', app: 'ai-sdk', formats: ['cjs', 'esm'], nodes: [22, 24] },
  { set: 'openai6', app: 'openai', formats: ['cjs', 'esm'], nodes: [20] },
  { set: 'express4.18', app: 'express', formats: ['cjs', 'esm'], nodes: [20] },
  { set: 'express5.0', app: 'express', formats: ['cjs', 'esm'], nodes: [20] },
  // "module": "commonjs" + moduleResolution node10: TypeScript 7 removed node10, so TS 5.9.3.
  { set: 'types', tsc: 'node10', typescript: 'set', nodes: [20] },
  // nodenext, a CommonJS file (consumer.ts) and an ES module (consumer.mts), with the repo's TypeScript 7.
  { set: 'types', tsc: 'nodenext', typescript: 'repo', nodes: [20] },
];
