// The command line attacked as a careless owner or a hostile VM would: odd -o folders, symlinks into
// shares, odd files as the policy, wildcards for sudo, root, closed pipes. Each ends with exit 64 or
// 1 and one clear line, never exit 70, a hang or a stack trace.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/run-cli.ts';

const BUNDLED = 'policy/nanoclaw.policy';
const HOME = ['--home', '/Users/owner'];
const root = join(import.meta.dirname, '../..');
const t = suite('hostile input: compile and check');
let dir = '';
t.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'np-hostile-'));
});
t.after.each(() => rmSync(dir, { recursive: true, force: true }));

const oneLine = (s: string) => s.trim().split('\n').length === 1;

t('-o through a symlink into a read-write share is refused and writes nothing', async () => {
  mkdirSync(join(dir, 'share'));
  symlinkSync(join(dir, 'share'), join(dir, 'innocent'));
  const policy = join(dir, 'p.policy');
  writeFileSync(policy, `vm v\nmount work ${dir}/share rw\n`);
  const r = await runCli(['compile', policy, '-o', join(dir, 'innocent', 'out'), ...HOME]);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, 'error[NP249]: The output folder');
  assert.match(r.stderr, `it leads to "${join(dir, 'share', 'out')}"`);
  assert.equal(readdirSync(join(dir, 'share')), []);
});

t('a policy reached through a symlinked share folder is refused', async () => {
  mkdirSync(join(dir, 'config'));
  symlinkSync(join(dir, 'config'), join(dir, 'work'));
  const policy = join(dir, 'config', 'p.policy');
  writeFileSync(policy, `vm v\nmount work ${dir}/work rw\n`);
  const r = await runCli(['check', policy, ...HOME]);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'error[NP249]: This policy file lies inside the read-write mount "work"');
});

t('a folder named like an artifact: nothing is written or renamed, exit 64, one line', async () => {
  mkdirSync(join(dir, 'out', 'sudoers'), { recursive: true });
  const r = await runCli(['compile', BUNDLED, '-o', join(dir, 'out'), ...HOME]);
  assert.is(r.code, 64);
  assert.ok(oneLine(r.stderr), r.stderr);
  assert.match(r.stderr, 'is a folder');
  assert.equal(readdirSync(join(dir, 'out')), ['sudoers']);
});

t('a symlink or a FIFO named like an artifact is refused too', async () => {
  mkdirSync(join(dir, 'out'));
  symlinkSync('/etc/passwd', join(dir, 'out', 'hosts'));
  let r = await runCli(['compile', BUNDLED, '-o', join(dir, 'out'), ...HOME]);
  assert.is(r.code, 64);
  assert.match(r.stderr, 'is a symbolic link');
  rmSync(join(dir, 'out', 'hosts'));
  execFileSync('mkfifo', [join(dir, 'out', 'anchor.pf')]);
  r = await runCli(['compile', BUNDLED, '-o', join(dir, 'out'), ...HOME]);
  assert.is(r.code, 64);
  assert.match(r.stderr, 'not a regular file');
});

t('the policy file is never overwritten, even as a hard link named like an artifact', async () => {
  mkdirSync(join(dir, 'out'));
  const policy = join(dir, 'out', 'hosts');
  writeFileSync(policy, readFileSync(BUNDLED));
  let r = await runCli(['compile', policy, '-o', join(dir, 'out'), ...HOME]);
  assert.is(r.code, 64);
  assert.match(r.stderr, 'is the policy file itself');
  rmSync(policy);
  const elsewhere = join(dir, 'p.policy');
  writeFileSync(elsewhere, readFileSync(BUNDLED));
  linkSync(elsewhere, join(dir, 'out', 'sudoers'));
  r = await runCli(['compile', elsewhere, '-o', join(dir, 'out'), ...HOME]);
  assert.is(r.code, 64);
  assert.is(readFileSync(elsewhere, 'utf8'), readFileSync(BUNDLED, 'utf8'));
});

t('a leftover temporary symlink is never followed', async () => {
  mkdirSync(join(dir, 'out'));
  writeFileSync(join(dir, 'victim'), 'keep');
  symlinkSync(join(dir, 'victim'), join(dir, 'out', `.anchor.pf.${process.pid}.tmp`));
  const r = await runCli(['compile', BUNDLED, '-o', join(dir, 'out'), ...HOME]);
  assert.is(r.code, 64);
  assert.is(readFileSync(join(dir, 'victim'), 'utf8'), 'keep');
  assert.not.ok(existsSync(join(dir, 'out', 'anchor.pf')));
});

t('bad -o values: exit 64, one line, no hang', async () => {
  writeFileSync(join(dir, 'file'), '');
  for (const out of ['/proc/x', '/proc/self/x/y', join(dir, 'file'), join(dir, 'file', 'sub'), '', 'a\nb', '/dev/null']) {
    const r = await runCli(['compile', BUNDLED, '-o', out, ...HOME]);
    assert.is(r.code, 64, `${JSON.stringify(out)}: ${r.stderr}`);
    assert.ok(oneLine(r.stderr), r.stderr);
    assert.not.match(r.stderr, /\n\s+at /);
  }
});

t('bad --home, --program and --user values: exit 64, one line', async () => {
  const bad: string[][] = [
    ['--home', 'relative/home'],
    ['--home', ''],
    ['--home', '/Users/owner/../other'],
    ['--home', '/Users/own\ner'],
    ['--program', 'nanopolicy'],
    ['--program', '/usr/local/bin/nano\npolicy'],
    ['--program', '/usr/../tmp/nanopolicy'],
    ['--user', 'bad user'],
    ['--user', 'root'],
  ];
  for (const args of bad) {
    const r = await runCli(['compile', BUNDLED, ...HOME, ...args]);
    assert.is(r.code, 64, `${JSON.stringify(args)}: ${r.stderr}`);
    assert.ok(oneLine(r.stderr), r.stderr);
  }
});

t('--program inside a read-write share is refused: the VM would rewrite the boot job', async () => {
  const policy = join(dir, 'p.policy');
  writeFileSync(policy, `vm v\nmount tools ${dir}/tools rw\n`);
  const r = await runCli(['compile', policy, ...HOME, '--program', `${dir}/tools/nanopolicy`]);
  assert.is(r.code, 64);
  assert.match(r.stderr, 'inside the read-write mount "tools"');
});

t('writing the artifacts for root is refused: a root LaunchDaemon would run node from owner-writable folders', async () => {
  const out = join(dir, 'root-out');
  const r = await runCli(['compile', BUNDLED, '--home', '/var/root', '-o', out]);
  assert.is(r.code, 64);
  assert.match(r.stderr, 'root LaunchDaemon');
  assert.not.ok(existsSync(out), 'nothing written');
  // The summary alone installs nothing: the README's quick start works as root too (CI runs as root).
  const summary = await runCli(['compile', BUNDLED, '--home', '/var/root']);
  assert.is(summary.code, 0, summary.stderr);
});

t('--sudo-user wildcards, aliases and everyone-groups are refused', async () => {
  for (const who of ['ALL', '%ALL', 'ADMINS', '%staff', '%everyone', '%localaccounts', '#0', '%#20', 'a b', 'alice,bob', '+netgroup']) {
    const r = await runCli(['compile', BUNDLED, ...HOME, '--sudo-user', who]);
    assert.is(r.code, 64, `${who}: ${r.stderr}`);
    assert.ok(oneLine(r.stderr), r.stderr);
  }
  assert.is((await runCli(['compile', BUNDLED, ...HOME, '--sudo-user', '%admin'])).code, 0);
  assert.is((await runCli(['compile', BUNDLED, ...HOME, '--sudo-user', 'alice'])).code, 0);
});

t('--json prints JSON for usage errors too', async () => {
  for (const args of [['compile', BUNDLED, '--json', '--bogus'], ['compile', BUNDLED, '--json', ...HOME, '--sudo-user', 'ALL'], ['check', BUNDLED, 'extra', '--json']]) {
    const r = await runCli(args);
    assert.is(r.code, 64);
    const out = JSON.parse(r.stdout);
    assert.is(out.ok, false);
    assert.type(out.error, 'string');
  }
});

t('odd policy files are refused before reading: folder, FIFO, device, too large', async () => {
  execFileSync('mkfifo', [join(dir, 'fifo.policy')]);
  writeFileSync(join(dir, 'big.policy'), Buffer.alloc(5 * 1024 * 1024, 0x23));
  const cases: Array<[string, string]> = [
    [dir, 'NP402'],
    [join(dir, 'fifo.policy'), 'NP402'],
    ['/dev/zero', 'NP402'],
    [join(dir, 'big.policy'), 'NP403'],
  ];
  for (const [file, code] of cases) {
    const r = await runCli(['check', file, ...HOME]);
    assert.is(r.code, 1, `${file}: ${r.stderr}`);
    assert.match(r.stderr, `error[${code}]`);
  }
});

t('invalid UTF-8 is an error at its line, and the hash is of the bytes', async () => {
  const policy = join(dir, 'p.policy');
  writeFileSync(policy, Buffer.concat([Buffer.from('vm v\nmount a ~/ok ro\nmount b ~/caf'), Buffer.from([0xe9]), Buffer.from(' ro\n')]));
  const r = await runCli(['check', policy, ...HOME]);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'error[NP104]: Line 3 holds bytes that are not UTF-8 (e9');
  assert.match(r.stderr, `${policy}:3:14`);
  // A file with U+FFFD itself is valid, and hashes differently from the one with the bad byte.
  writeFileSync(policy, 'vm v\nmount b ~/caf\ufffd ro\n');
  const ok = await runCli(['compile', policy, ...HOME, '--json']);
  assert.is(ok.code, 0, ok.stderr);
  assert.is(JSON.parse(ok.stdout).sha256, createHash('sha256').update(readFileSync(policy)).digest('hex'));
});

t.run();

const pipe = suite('closed pipes');
pipe('output into a closed pipe ends quietly, without a trace', () => {
  const big = join(tmpdir(), `np-pipe-${process.pid}.policy`);
  writeFileSync(big, `vm v\n${Array.from({ length: 20000 }, (_, i) => `mount m${i} ~/a/s${i} ro`).join('\n')}\n`);
  try {
    const r = spawnSync('sh', ['-c', `node "${join(root, 'bin/nanopolicy.js')}" compile "${big}" --home /Users/owner | head -1 >/dev/null`], { encoding: 'utf8', timeout: 60_000 });
    assert.is(r.status, 0);
    assert.not.match(r.stderr, 'EPIPE');
    assert.not.match(r.stderr, /\n\s+at /);
  } finally {
    rmSync(big, { force: true });
  }
});
pipe.run();

const links = suite('symlinked shares');
links('a share that is a symlink to a sensitive folder or to the home folder is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-links-'));
  try {
    mkdirSync(join(dir, 'home', '.ssh'), { recursive: true });
    symlinkSync(join(dir, 'home', '.ssh'), join(dir, 'home', 'notes'));
    symlinkSync(join(dir, 'home'), join(dir, 'everything'));
    const policy = join(dir, 'p.policy');
    writeFileSync(policy, `vm v\nmount notes ~/notes ro\nmount all ${dir}/everything ro\n`);
    const r = await runCli(['check', policy, '--home', join(dir, 'home')]);
    assert.is(r.code, 1);
    assert.match(r.stderr, `error[NP247]: The mount "notes" shares ".ssh" (it leads to "${join(dir, 'home', '.ssh')}")`);
    assert.match(r.stderr, 'error[NP246]: The mount "all" shares');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
links.run();
