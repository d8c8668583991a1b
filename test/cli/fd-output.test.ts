// check's and compile's output straight to the descriptor (src/cli/fd-output.ts): every byte in
// order, a non-blocking descriptor handed to Node's stream without losing order, a reader that
// went away neither an error nor a changed exit code, and no stdio stream built for a check.

import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fdOutput } from '../../src/cli/fd-output.ts';

const ROOT = join(import.meta.dirname, '../..');
const t = suite('fd output');

const errno = (code: string) => Object.assign(new Error(code), { code });

// A stand-in for Node's stream, recording what reaches it.
function recorder() {
  const got: string[] = [];
  const stream = { write: (chunk: string | Uint8Array) => (got.push(Buffer.from(chunk).toString()), true) } as unknown as NodeJS.WritableStream;
  return { got, stream };
}

t('writes every chunk to the file, in order, and is no terminal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-fd-'));
  try {
    const file = join(dir, 'out');
    const fd = openSync(file, 'w');
    const out = fdOutput(fd, () => assert.unreachable('no stream for a file') as never);
    assert.is(out.write('héllo '), true);
    out.write('wörld\n');
    assert.is(out.isTTY, false);
    assert.is(out.stream, undefined);
    closeSync(fd);
    assert.is(readFileSync(file, 'utf8'), 'héllo wörld\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t('/dev/null is no terminal', () => {
  const fd = openSync('/dev/null', 'w');
  try {
    assert.is(fdOutput(fd, () => recorder().stream).isTTY, false);
  } finally {
    closeSync(fd);
  }
});

t('a short write is finished; EAGAIN hands the rest and every later chunk to the stream, in order', () => {
  const written: string[] = [];
  let calls = 0;
  const fake = ((_fd: number, bytes: Uint8Array, offset: number) => {
    calls++;
    if (calls === 1) return (written.push(Buffer.from(bytes.subarray(offset, offset + 3)).toString()), 3);
    if (calls === 2) return (written.push(Buffer.from(bytes.subarray(offset, offset + 2)).toString()), 2);
    throw errno('EAGAIN');
  }) as unknown as typeof import('node:fs').writeSync;
  const { got, stream } = recorder();
  let made = 0;
  const out = fdOutput(9, () => (made++, stream), fake);
  out.write('abcdefgh');
  out.write('next');
  assert.equal(written, ['abc', 'de'], 'the descriptor took five bytes');
  assert.equal(got, ['fgh', 'next'], 'the stream gets the rest, then every later chunk');
  assert.is(made, 1);
  assert.is(out.stream, stream, 'the bin flushes it before exit');
  assert.is(calls, 3, 'the descriptor is not tried again');
});

t('EPIPE drops the rest quietly; any other error is thrown', () => {
  let calls = 0;
  const gone = (() => {
    calls++;
    throw errno('EPIPE');
  }) as unknown as typeof import('node:fs').writeSync;
  const out = fdOutput(9, () => assert.unreachable('a closed pipe needs no stream') as never, gone);
  assert.is(out.write('a'), false);
  assert.is(out.write('b'), false);
  assert.is(calls, 1, 'nothing more is tried once the reader is gone');
  const broken = (() => {
    throw errno('EIO');
  }) as unknown as typeof import('node:fs').writeSync;
  assert.throws(() => fdOutput(9, () => recorder().stream, broken).write('x'), /EIO/);
});

const pipes = suite('fd output: the built CLI');

pipes('check into closed pipes keeps its exit code and prints no trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-fd-'));
  try {
    const bad = join(dir, 'bad.policy');
    writeFileSync(bad, `vm v\n${Array.from({ length: 3000 }, (_, i) => `allw s${i} h${i}.test:443 via ${2000 + i}`).join('\n')}\n`);
    const bin = join(ROOT, 'bin/nanopolicy.js');
    // stderr (the diagnostics) into a reader that leaves after one line; then stdout (--json).
    for (const [redirect, what] of [['2>&1 >/dev/null', 'stderr'], ['--json', 'stdout']] as const) {
      const r = spawnSync('bash', ['-c', `node "${bin}" check "${bad}" ${redirect} | head -c 20 >/dev/null; exit "\${PIPESTATUS[0]}"`], { encoding: 'utf8', timeout: 60_000 });
      assert.is(r.status, 1, `${what}: the policy has errors, so check exits 1 (${r.stderr})`);
      assert.not.match(r.stderr, /EPIPE|internal error|\n\s+at /);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

pipes('a check into pipes or /dev/null builds no stdio stream: neither node:net nor the stream machinery is loaded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-fd-'));
  try {
    const record = join(dir, 'loaded.json');
    const preload = join(dir, 'record.cjs');
    writeFileSync(preload, `process.once('exit', () => require('node:fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify(process.moduleLoadList)));\n`);
    const heavy = ['NativeModule net', 'NativeModule stream', 'NativeModule tty'];
    // Colour is decided by the terminal alone here (no NO_COLOR), as a user's shell would.
    const { NO_COLOR: _n, FORCE_COLOR: _f, ...env } = process.env;
    const r = spawnSync(process.execPath, ['-r', preload, join(ROOT, 'bin/nanopolicy.js'), 'check', 'policy/nanoclaw.policy'], { cwd: ROOT, encoding: 'utf8', env });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /policy\/nanoclaw\.policy: ok/);
    assert.match(r.stderr, /^warning\[NP250\]/, 'diagnostics still reach stderr, without colour');
    for (const m of heavy) assert.not.ok((JSON.parse(readFileSync(record, 'utf8')) as string[]).includes(m), `pipes: ${m} was loaded`);
    // `check … >/dev/null 2>&1`, for the exit code alone.
    const quiet = spawnSync(process.execPath, ['-r', preload, join(ROOT, 'bin/nanopolicy.js'), 'check', 'policy/nanoclaw.policy'], { cwd: ROOT, stdio: 'ignore', env });
    assert.is(quiet.status, 0);
    for (const m of heavy) assert.not.ok((JSON.parse(readFileSync(record, 'utf8')) as string[]).includes(m), `/dev/null: ${m} was loaded`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
pipes.run();
