import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/run-cli.ts';

const BUNDLED = 'policy/nanoclaw.policy';
const HOME = ['--home', '/Users/owner'];
const ESC = '\u001b[';

const check = suite('check');

check('the bundled policy checks clean (one warning) and exits 0', async () => {
  const r = await runCli(['check', BUNDLED, ...HOME]);
  assert.is(r.code, 0);
  assert.is(r.stdout, 'policy/nanoclaw.policy: ok (1 warning)\n');
  assert.match(r.stderr, 'warning[NP250]');
  assert.not.match(r.stderr, ESC);
});

check('errors print file:line:column, the line with carets and a hint; exit 1; no stack trace', async () => {
  const r = await runCli(['check', 'test/fixtures/invalid/listen-collision.policy', ...HOME]);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'error[NP222]: The listen port 18443 is already used by the bridge "vaultwarden" on line 2.');
  assert.match(r.stderr, '--> test/fixtures/invalid/listen-collision.policy:3:40');
  assert.match(r.stderr, '^^^^^');
  assert.match(r.stderr, '= hint:');
  assert.not.match(r.stderr, /\n\s+at /);
});

check('--json prints the same records for machines', async () => {
  const r = await runCli(['check', 'test/fixtures/invalid/target-loopback.policy', '--json', ...HOME]);
  assert.is(r.code, 1);
  assert.is(r.stderr, '');
  const out = JSON.parse(r.stdout);
  assert.is(out.ok, false);
  assert.equal(
    Object.keys(out.diagnostics[0]).sort(),
    ['code', 'column', 'endColumn', 'file', 'hint', 'line', 'message', 'severity'],
  );
  assert.is(out.diagnostics[0].code, 'NP233');
});

check('colour only on a TTY, and never with NO_COLOR', async () => {
  const file = 'test/fixtures/invalid/target-loopback.policy';
  assert.match((await runCli(['check', file, ...HOME], { tty: true })).stderr, ESC);
  assert.not.match((await runCli(['check', file, ...HOME], { tty: true, env: { NO_COLOR: '1' } })).stderr, ESC);
  assert.not.match((await runCli(['check', file, ...HOME], { tty: false })).stderr, ESC);
});

check('a missing file is a diagnostic, exit 1', async () => {
  const r = await runCli(['check', 'no/such.policy']);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'error[NP401]: Cannot read the policy file "no/such.policy": it does not exist.');
});

check('usage errors exit 64', async () => {
  assert.is((await runCli(['check', BUNDLED, 'extra'])).code, 64);
  assert.is((await runCli(['check', BUNDLED, '--bogus'])).code, 64);
  assert.is((await runCli(['frobnicate'])).code, 64);
  assert.is((await runCli([])).code, 64);
});

check('--help teaches with examples and exits 0', async () => {
  const r = await runCli(['compile', '--help']);
  assert.is(r.code, 0);
  assert.match(r.stdout, 'Examples:');
  assert.match(r.stdout, 'Exit codes:');
});

check.run();

const compile = suite('compile');
let dir = '';
compile.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'np-compile-'));
});
compile.after.each(() => rmSync(dir, { recursive: true, force: true }));

compile('without -o it prints a summary and writes nothing', async () => {
  const r = await runCli(['compile', BUNDLED, ...HOME]);
  assert.is(r.code, 0);
  assert.match(r.stdout, 'vaultwarden    192.168.64.1:18443  → bitwarden.cstrube.de:443');
  assert.match(r.stdout, 'scripts  ro  /Users/owner/nanoclaw/scripts');
  assert.match(r.stdout, 'anchor.pf');
});

compile('with -o it writes every artifact, and manifest.json holds their hashes', async () => {
  const r = await runCli(['compile', BUNDLED, '-o', dir, ...HOME]);
  assert.is(r.code, 0, r.stderr);
  const files = readdirSync(dir).sort();
  for (const name of ['anchor.pf', 'bridges.sh', 'hosts', 'manifest.json', 'tart-run.sh', 'verify.json']) {
    assert.ok(files.includes(name), `${name} missing from ${files.join(', ')}`);
  }
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  const policyHash = createHash('sha256').update(readFileSync(BUNDLED)).digest('hex');
  assert.is(manifest.policy.sha256, policyHash);
  for (const a of manifest.artifacts) {
    assert.is(createHash('sha256').update(readFileSync(join(dir, a.name))).digest('hex'), a.sha256, a.name);
  }
  for (const name of files) {
    // proxy.json is the proxy's own config, whose parser refuses unknown keys: its hash is the one
    // manifest.json holds (checked above), until the proxy accepts a "policy" key.
    if (name === 'proxy.json') continue;
    assert.ok(readFileSync(join(dir, name), 'utf8').includes(policyHash), `${name} names the policy hash`);
  }
});

compile('output is byte-for-byte deterministic', async () => {
  await runCli(['compile', BUNDLED, '-o', join(dir, 'a'), ...HOME]);
  await runCli(['compile', BUNDLED, '-o', join(dir, 'b'), ...HOME]);
  for (const name of readdirSync(join(dir, 'a'))) {
    assert.is(readFileSync(join(dir, 'b', name), 'utf8'), readFileSync(join(dir, 'a', name), 'utf8'), name);
  }
});

compile('a policy with errors writes nothing', async () => {
  const r = await runCli(['compile', 'test/fixtures/invalid/mount-home.policy', '-o', join(dir, 'out'), ...HOME]);
  assert.is(r.code, 1);
  assert.not.ok(existsSync(join(dir, 'out')));
});

compile('an output folder inside a read-write mount is refused', async () => {
  const policy = join(dir, 'p.policy');
  writeFileSync(policy, `vm v\nmount work ${dir}/work rw\n`);
  const r = await runCli(['compile', policy, '-o', join(dir, 'work', 'out'), ...HOME]);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'error[NP249]: The output folder');
  assert.not.ok(existsSync(join(dir, 'work', 'out')));
});

compile('-o into an earlier output folder removes our files the policy no longer emits, and only those', async () => {
  const withEgress = join(dir, 'with.policy');
  const without = join(dir, 'without.policy');
  writeFileSync(withEgress, 'vm v\negress claude api.anthropic.com\n');
  writeFileSync(without, 'vm v\n');
  const out = join(dir, 'out');
  assert.is((await runCli(['compile', withEgress, '-o', out, ...HOME])).code, 0);
  assert.ok(existsSync(join(out, 'proxy.json')) && existsSync(join(out, 'proxy.env')));
  writeFileSync(join(out, 'notes.txt'), 'mine\n');
  writeFileSync(join(out, 'proxy.env'), `${readFileSync(join(out, 'proxy.env'), 'utf8')}# my edit\n`);
  const r = await runCli(['compile', without, '-o', out, ...HOME]);
  assert.is(r.code, 0, r.stderr);
  assert.not.ok(existsSync(join(out, 'proxy.json')), 'our unchanged proxy.json is gone');
  assert.match(r.stdout, `removed ${join(out, 'proxy.json')} (an earlier compile wrote it; this policy no longer needs it)`);
  assert.ok(existsSync(join(out, 'proxy.env')), 'an artifact the owner edited is kept');
  assert.match(r.stderr, `compile: kept ${join(out, 'proxy.env')}, which this policy no longer needs: it changed since compile wrote it`);
  assert.is(readFileSync(join(out, 'notes.txt'), 'utf8'), 'mine\n', 'a file compile never wrote is never touched');
  // A third run: the manifest now lists neither, so nothing more is said or removed.
  const again = await runCli(['compile', without, '-o', out, ...HOME, '--json']);
  assert.equal([JSON.parse(again.stdout).removed, JSON.parse(again.stdout).kept], [[], []]);
  assert.ok(existsSync(join(out, 'proxy.env')));
});

compile('a hostile manifest.json cannot make compile remove anything outside its own artifacts', async () => {
  const out = join(dir, 'out');
  assert.is((await runCli(['compile', BUNDLED, '-o', out, ...HOME])).code, 0);
  writeFileSync(join(dir, 'victim'), 'v');
  const sha = createHash('sha256').update('v').digest('hex');
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  manifest.artifacts.push({ name: '../victim', sha256: sha }, { name: `${dir}/victim`, sha256: sha }, { name: 'manifest.json', sha256: sha });
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest));
  const r = await runCli(['compile', BUNDLED, '-o', out, ...HOME]);
  assert.is(r.code, 0, r.stderr);
  assert.ok(existsSync(join(dir, 'victim')));
  assert.not.match(r.stdout, 'removed');
});

compile('--json lists the written artifacts', async () => {
  const r = await runCli(['compile', BUNDLED, '-o', dir, '--json', ...HOME]);
  const out = JSON.parse(r.stdout);
  assert.is(out.ok, true);
  assert.ok(out.artifacts.every((a: { sha256: string; path: string }) => /^[0-9a-f]{64}$/.test(a.sha256) && a.path.startsWith(dir)));
});

compile.run();

const options = suite('compile options');
options('--program must be absolute and --sudo-user a name: else exit 64', async () => {
  assert.is((await runCli(['compile', BUNDLED, '--program', 'nanopolicy'])).code, 64);
  const r = await runCli(['compile', BUNDLED, '--sudo-user', 'bad user']);
  assert.is(r.code, 64);
  assert.match(r.stderr, 'error: --sudo-user takes a user name or %group');
});
options('--program must exist and be executable; without it the boot job names the nanopolicy that is running', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-program-'));
  try {
    const missing = await runCli(['compile', BUNDLED, ...HOME, '--program', '/nonexistent/nanopolicy']);
    assert.is(missing.code, 64);
    assert.match(missing.stderr, 'error: --program "/nonexistent/nanopolicy" does not exist; name the installed nanopolicy');
    writeFileSync(join(dir, 'plain'), '#!/bin/sh\n', { mode: 0o644 });
    const plain = await runCli(['compile', BUNDLED, ...HOME, '--program', join(dir, 'plain')]);
    assert.is(plain.code, 64);
    // root may execute anything with an x bit, but a file with none is refused for root too.
    assert.match(plain.stderr, 'is not executable');
    assert.is((await runCli(['compile', BUNDLED, ...HOME, '--program', dir])).code, 64);
    writeFileSync(join(dir, 'nanopolicy'), '#!/bin/sh\n', { mode: 0o755 });
    const ok = await runCli(['compile', BUNDLED, ...HOME, '--program', join(dir, 'nanopolicy'), '-o', join(dir, 'out')]);
    assert.is(ok.code, 0, ok.stderr);
    assert.match(readFileSync(join(dir, 'out/launchd.plist'), 'utf8'), `<string>${join(dir, 'nanopolicy')}</string>`);
    // The installed CLI as a user starts it: argv[1] is the path of the program, e.g. an npm prefix's bin.
    const { main } = await import('../../src/cli/main.ts');
    const sink = { write: () => true };
    const code = await main(['node', '/opt/homebrew/bin/nanopolicy', 'compile', BUNDLED, ...HOME, '-o', join(dir, 'out2')], { stdout: sink, stderr: sink, env: {} });
    assert.is(code, 0);
    assert.match(readFileSync(join(dir, 'out2/launchd.plist'), 'utf8'), '<string>/opt/homebrew/bin/nanopolicy</string>');
    assert.not.match(readFileSync(join(dir, 'out2/launchd.plist'), 'utf8'), '/usr/local/bin/nanopolicy');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
options.run();
