// The built CLI (dist/, by scripts/build.js; npm test builds first): one CommonJS bundle run from a
// V8 code cache, start-up loads only what every command needs, and what enforce and verify load
// on demand (dist/vendor.cjs, the probe) is found beside it.

import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compilePolicyFile } from '../../src/compiler/compile.ts';
import { buildVerifyManifest } from '../../src/compiler/emit/verify-manifest.ts';
import { BIG_POLICY_BYTES, NO_TURBOFAN_MAX_BYTES, v8TuningFor } from '../../src/compiler/v8-tuning.ts';

const ROOT = join(import.meta.dirname, '../..');
const DIST = join(ROOT, 'dist');
const BIN = join(ROOT, 'bin/nanopolicy.js');
const t = suite('dist bundle');

// Runs the built CLI with stdout and stderr in files (a pipe would load node:net for the stream)
// and a preload that records, at exit, every built-in loaded and every file required.
function runRecorded(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string; builtins: string[]; required: string[]; newSpace: number } {
  const dir = mkdtempSync(join(tmpdir(), 'np-dist-'));
  try {
    const preload = join(dir, 'record.cjs');
    const record = join(dir, 'record.json');
    writeFileSync(
      preload,
      `process.once('exit', () => require('node:fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify({ builtins: process.moduleLoadList, required: Object.keys(require.cache), newSpace: require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size })));\n`,
    );
    const out = openSync(join(dir, 'out'), 'w');
    const err = openSync(join(dir, 'err'), 'w');
    const r = spawnSync(process.execPath, ['-r', preload, BIN, ...args], { cwd: ROOT, stdio: ['ignore', out, err], env: { ...process.env, NO_COLOR: '1', ...env } });
    closeSync(out);
    closeSync(err);
    const recorded = JSON.parse(readFileSync(record, 'utf8')) as { builtins: string[]; required: string[]; newSpace: number };
    return { status: r.status, stdout: readFileSync(join(dir, 'out'), 'utf8'), stderr: readFileSync(join(dir, 'err'), 'utf8'), ...recorded };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t('dist/cli.cjs, dist/vendor.cjs and a code cache for this very cli.cjs are built (run "npm run build" first)', () => {
  assert.ok(existsSync(join(DIST, 'cli.cjs')), 'dist/cli.cjs is missing: run "npm run build"');
  assert.ok(existsSync(join(DIST, 'vendor.cjs')), 'dist/vendor.cjs is missing');
  const { size } = statSync(join(DIST, 'cli.cjs'));
  const caches = readdirSync(DIST).filter((f) => f.endsWith('.cache')).sort();
  // Named by the build id the bundle's last line holds, a hash of its text (never a file time).
  const text = readFileSync(join(DIST, 'cli.cjs'), 'utf8');
  const id = /\/\/# nanopolicy-build ([0-9a-f]{16})\n$/.exec(text)?.[1];
  assert.ok(id !== undefined, 'dist/cli.cjs ends with its build id');
  assert.is(id, createHash('sha256').update(text.slice(0, text.lastIndexOf('\n//# nanopolicy-build '))).digest('hex').slice(0, 16));
  const stamp = `cli.cjs.${size}-${id}`;
  assert.equal(caches, [`${stamp}.default.cache`, `${stamp}.verify.cache`], 'the default and verify caches, named for the current bundle');
});

t('check runs from the code cache, and start-up loads no execa, diff, crypto, net, tls, dns, dgram or child_process', () => {
  const r = runRecorded(['check', 'policy/nanoclaw.policy'], { NANOPOLICY_DEBUG: '1' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout + r.stderr, /policy\/nanoclaw\.policy: ok/);
  assert.match(r.stderr, /code cache accepted .*\.default\.cache/);
  for (const heavy of ['crypto', 'net', 'tls', 'dns', 'dgram', 'child_process', 'fs/promises']) {
    assert.not.ok(r.builtins.includes(`NativeModule ${heavy}`), `node:${heavy} is loaded at start-up`);
  }
  assert.not.ok(r.required.some((f) => f.endsWith('vendor.cjs') || f.includes('/node_modules/')), `start-up required ${r.required.join(', ')}`);
  assert.not.match(r.stderr, /young generation/, 'a small policy leaves the heap alone');
});

t('a big policy keeps the young generation at its first size and goes without TurboFan (src/compiler/v8-tuning.ts); a small one touches neither', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-big-'));
  try {
    const bundled = readFileSync(join(ROOT, 'policy/nanoclaw.policy'), 'utf8').trimEnd();
    const policyOf = (name: string, mounts: number) => {
      const lines = [bundled];
      for (let i = 0; i < mounts; i++) lines.push(`mount m${i} ~/bench/share-${i} ro`);
      writeFileSync(join(dir, name), `${lines.join('\n')}\n`);
      return join(dir, name);
    };
    const big = policyOf('big.policy', 4000);
    const huge = policyOf('huge.policy', 24_000);
    assert.ok(statSync(big).size >= BIG_POLICY_BYTES && statSync(big).size < NO_TURBOFAN_MAX_BYTES);
    assert.ok(statSync(huge).size >= NO_TURBOFAN_MAX_BYTES);
    const tuned = runRecorded(['check', big], { NANOPOLICY_DEBUG: '1' });
    const hugeRun = runRecorded(['check', huge], { NANOPOLICY_DEBUG: '1' });
    assert.is(tuned.status, 0, tuned.stderr);
    // 24,000 shares do not fit tart's command line on macOS (NP305, issue 24): check still runs
    // every pass over the whole policy, and ends with that one error.
    assert.is(hugeRun.status, 1, hugeRun.stderr);
    assert.match(hugeRun.stderr, /error\[NP305\][^]*\n1 error, 1 warning\n/);
    const major = Number(process.versions.v8.split('.')[0]);
    if (major >= 10 && major <= 13) {
      assert.match(tuned.stderr, /young generation kept at its first size \(a policy of \d+ KiB\)/);
      // V8 grows it to 16 MiB for this policy otherwise.
      assert.ok(tuned.newSpace <= 4 * 1024 * 1024, `new space ${tuned.newSpace} bytes`);
    } else {
      assert.not.match(tuned.stderr, /young generation/, 'an unknown V8 is left alone');
    }
    if (major === 11) assert.match(tuned.stderr, /no optimising compiler \(TurboFan\) for this check \(a policy of \d+ KiB\)/);
    else assert.not.match(tuned.stderr, /TurboFan/, 'a V8 it was not measured on keeps its compiler');
    assert.not.match(hugeRun.stderr, /TurboFan/, 'past ~20,000 statements TurboFan pays for itself');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t('which V8 tuning a policy gets: by its size and the V8 major each flag was measured on', () => {
  const none = { youngGenerationKept: false, noTurbofan: false };
  assert.equal(v8TuningFor(BIG_POLICY_BYTES - 1, 11), none, 'a small policy');
  assert.equal(v8TuningFor(BIG_POLICY_BYTES, 11), { youngGenerationKept: true, noTurbofan: true });
  assert.equal(v8TuningFor(NO_TURBOFAN_MAX_BYTES - 1, 11), { youngGenerationKept: true, noTurbofan: true });
  assert.equal(v8TuningFor(NO_TURBOFAN_MAX_BYTES, 11), { youngGenerationKept: true, noTurbofan: false }, 'TurboFan pays for itself');
  assert.equal(v8TuningFor(BIG_POLICY_BYTES, 12), { youngGenerationKept: true, noTurbofan: false }, 'Maglev: unmeasured, defaults kept');
  assert.equal(v8TuningFor(BIG_POLICY_BYTES, 14), none, 'an unknown V8');
  assert.equal(v8TuningFor(BIG_POLICY_BYTES, 9), none);
});

t('a cache that does not match the bundle is never used: a changed cli.cjs gets a new name, V8 rejects the rest', () => {
  const { size } = statSync(join(DIST, 'cli.cjs'));
  const bin = readFileSync(BIN, 'utf8');
  assert.match(bin, /\$\{size\}-\$\{buildId\}\.\$\{role\}\.cache/, 'the cache name carries the size and the build id');
  const id = /\/\/# nanopolicy-build ([0-9a-f]{16})\n$/.exec(readFileSync(join(DIST, 'cli.cjs'), 'utf8'))![1];
  // A cache of other bytes under the right name: V8 refuses it and the CLI still runs.
  const cacheFile = join(DIST, `cli.cjs.${size}-${id}.default.cache`);
  const good = readFileSync(cacheFile);
  try {
    writeFileSync(cacheFile, Buffer.from('not a code cache'));
    const r = runRecorded(['check', 'policy/nanoclaw.policy'], { NANOPOLICY_DEBUG: '1' });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stderr, /code cache rejected/);
  } finally {
    writeFileSync(cacheFile, good);
  }
});

t('enforce and verify find what they load on demand: execa and diff in dist/vendor.cjs', () => {
  const vendor = createRequire(join(DIST, 'cli.cjs'))('./vendor.cjs') as { execa: { execa: unknown }; diff: { createTwoFilesPatch: unknown } };
  assert.type(vendor.execa.execa, 'function');
  assert.type(vendor.diff.createTwoFilesPatch, 'function');
  assert.not.match(readFileSync(join(DIST, 'cli.cjs'), 'utf8'), /\bimport\(/, 'a code-cached script cannot import() on Node 20');
});

t('the built CLI loads the probe on demand (verify --inside, every probe group skipped: sends nothing)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-dist-'));
  try {
    const { policy } = await compilePolicyFile(join(ROOT, 'policy/nanoclaw.policy'), { home: dir, cwd: ROOT });
    if (!policy) throw new Error('the bundled policy does not compile');
    const manifest = join(dir, 'verify.json');
    writeFileSync(manifest, JSON.stringify(buildVerifyManifest(policy)));
    const all = 'bridges,hosts,gateway,direct,proxy,egress,dns,icmp,mounts';
    const inside = spawnSync(process.execPath, [BIN, 'verify', '--inside', manifest, '--skip', all, '--json'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NANOPOLICY_DEBUG: '1' } });
    assert.is(inside.status, 0, inside.stderr);
    assert.match(inside.stderr, /code cache accepted .*\.verify\.cache/);
    assert.equal((JSON.parse(inside.stdout) as { results: unknown[] }).results, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
