#!/usr/bin/env node
// Entry point. The CLI is one CommonJS bundle, dist/cli.cjs (`npm run build`; `npm pack` runs it),
// run here through V8's code cache when the build left one for this exact file: start-up then
// skips parsing and compiling the code every command runs (issue 9). CommonJS (bin/package.json)
// because an ES module entry costs the ES module loader before the first line.
'use strict';
const { readFileSync, statSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { Script } = require('node:vm');

const file = join(__dirname, '../dist/cli.cjs');
let source;
try {
  source = readFileSync(file, 'utf8');
} catch {
  process.stderr.write(`nanopolicy: ${file} is missing; run "npm run build" in the checkout.\n`);
  process.exit(70);
}
// The cache's name carries the size of the bundle it was made from and the build id the build
// wrote as the bundle's last line (a hash of its text): file times would not do, since npm sets
// every time in a package to 1985 and an installed CLI would never find its cache. V8 itself
// refuses a cache from another V8 version, other flags or another source length. verify has a
// cache of its own (its probes are code check never runs); every other command uses check's.
const { size, mtimeMs } = statSync(file);
const buildId = /\/\/# nanopolicy-build ([0-9a-f]{16})\n$/.exec(source.slice(-48))?.[1] ?? `t${Math.trunc(mtimeMs)}`;
const role = process.argv[2] === 'verify' ? 'verify' : 'default';
const cacheFile = `${file}.${size}-${buildId}.${role}.cache`;
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  // No cache: V8 compiles as usual.
}
// The bundle is already the function to call (scripts/build.js wraps it at build time, so V8 gets
// the file's string as it is, with no flat copy of a wrapper made at every start).
const script = new Script(source, { filename: file, cachedData });
if (process.env.NANOPOLICY_DEBUG) process.stderr.write(`nanopolicy: code cache ${cachedData === undefined ? 'missing' : script.cachedDataRejected ? 'rejected' : 'accepted'} (${cacheFile})\n`);
const cli = { exports: {} };
script.runInThisContext()(cli.exports, require('node:module').createRequire(file), cli, file, join(__dirname, '../dist'));

// check and compile print once and end: their output goes straight to the descriptors, without
// the cost of Node's stdio streams (src/cli/fd-output.ts). This process's V8 is theirs to tune
// (src/compiler/v8-tuning.ts): their time is the policy's size. (A V8 flag set at run time also
// makes Node compile every built-in it loads afterwards without its code cache: enforce and verify
// load many, check and compile few.)
const oneShot = role === 'default' && (process.argv[2] === 'check' || process.argv[2] === 'compile');
if (oneShot) cli.exports.allowV8Tuning();
const io = oneShot
  ? { stdout: cli.exports.fdOutput(1, () => process.stdout), stderr: cli.exports.fdOutput(2, () => process.stderr), env: process.env }
  : { stdout: process.stdout, stderr: process.stderr, env: process.env };
cli.exports.main(process.argv, io).then((code) => {
  // The build's one training run keeps what it compiled, for every later start.
  if (process.env.NANOPOLICY_WRITE_CODE_CACHE === '1') writeFileSync(cacheFile, script.createCachedData());
  // Every command awaits its own work, so what is still pending now is only what nobody waits for:
  // a probe socket's timer. Exit once the output is flushed (pipes can be asynchronous on macOS)
  // instead of waiting for them (issue 9). (Not a getaddrinfo: exit joins libuv's pool threads, so
  // verify asks the system resolver only in a child it kills: src/verify/inside/system-lookup.ts.)
  process.exitCode = code;
  const streams = oneShot ? [io.stdout.stream, io.stderr.stream].filter((s) => s !== undefined) : [process.stdout, process.stderr];
  let pending = streams.length;
  if (pending === 0) process.exit(code);
  const flushed = () => {
    if (--pending === 0) process.exit(code);
  };
  for (const stream of streams) stream.write('', flushed);
});
