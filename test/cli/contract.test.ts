// One contract for every command (docs/cli.md): the same exit code for the same cause, JSON on
// stdout for every failure under --json, a missing program as one line with its install command,
// and the default policy location. Each case is what a script or a careless owner would do.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXIT } from '../../src/cli/io.ts';
import { runCli } from '../helpers/run-cli.ts';

const t = suite('contract');
let dir = '';
t.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'np-contract-'));
});
t.after.each(() => rmSync(dir, { recursive: true, force: true }));

// Every command that reads a policy, with what else it needs to get as far as reading it.
const READERS: Array<(policy: string) => string[]> = [
  (p) => ['check', p],
  (p) => ['compile', p],
  (p) => ['compile', p, '-o', join(dir, 'out')],
  (p) => ['enforce', p, '--backend', 'nft', '--state-dir', join(dir, 'state')],
  (p) => ['enforce', p, '--dry-run', '--backend', 'nft', '--state-dir', join(dir, 'state')],
  (p) => ['verify', p],
  (p) => ['log', p, '--state-dir', join(dir, 'state')],
  (p) => ['explain', p, '10.0.30.5:8123'],
  (p) => ['status', p, '--backend', 'nft', '--state-dir', join(dir, 'state')],
  (p) => ['snapshots', p, '--backend', 'nft', '--state-dir', join(dir, 'state')],
  (p) => ['rollback', p, '--dry-run', '--backend', 'nft', '--state-dir', join(dir, 'state')],
];

t('a policy with errors: exit 1 from every command, and under --json one JSON object naming them', async () => {
  const bad = join(dir, 'bad.policy');
  writeFileSync(bad, 'vm v\nalow x 10.0.30.5:8123 via 18123\n');
  for (const args of READERS.map((f) => f(bad))) {
    const text = await runCli([...args, '--home', dir]);
    assert.is(text.code, EXIT.policy, `${args.join(' ')}: ${text.stderr}`);
    assert.match(text.stderr, 'error[NP102]', args.join(' '));
    const json = await runCli([...args, '--home', dir, '--json']);
    assert.is(json.code, EXIT.policy, args.join(' '));
    const out = JSON.parse(json.stdout) as { ok: boolean; diagnostics: Array<{ code: string }> };
    assert.is(out.ok, false, args.join(' '));
    assert.equal(out.diagnostics.map((d) => d.code), ['NP102'], args.join(' '));
  }
});

t('a policy file that is not there: exit 1 everywhere, JSON under --json', async () => {
  const missing = join(dir, 'nope.policy');
  for (const args of READERS.map((f) => f(missing))) {
    const r = await runCli([...args, '--json', '--home', dir]);
    assert.is(r.code, EXIT.policy, args.join(' '));
    assert.is(JSON.parse(r.stdout).diagnostics[0].code, 'NP401', args.join(' '));
  }
});

t('init failures print JSON under --json too', async () => {
  const r = await runCli(['init', '--from', join(dir, 'none'), '--home', dir, '--json']);
  assert.is(r.code, EXIT.policy);
  const out = JSON.parse(r.stdout);
  assert.is(out.ok, false);
  assert.match(out.error, 'There is no NanoClaw install');
  assert.match(out.hint, '--from');
  writeFileSync(join(dir, 'exists.policy'), 'mine\n');
  mkdirSync(join(dir, 'nanoclaw/groups'), { recursive: true });
  const exists = await runCli(['init', '--home', dir, '-o', join(dir, 'exists.policy'), '--json']);
  assert.is(exists.code, EXIT.policy);
  assert.equal(Object.keys(JSON.parse(exists.stdout)).sort(), ['error', 'hint', 'ok']);
});

t('a missing tart is one line with its install command, exit 69, and JSON under --json', async () => {
  const policy = join(dir, 'p.policy');
  writeFileSync(policy, 'vm v\n');
  const env = { PATH: join(dir, 'empty-bin'), HOME: dir };
  const r = await runCli(['snapshots', policy, '--backend', 'nft', '--state-dir', join(dir, 'state')], { env });
  assert.is(r.code, EXIT.unavailable);
  assert.is(r.stderr, 'error: snapshots: "tart" is not installed (not found on PATH); install it with: brew install cirruslabs/cli/tart.\n');
  assert.not.match(r.stderr, 'ENOENT');
  const json = await runCli(['snapshots', policy, '--backend', 'nft', '--state-dir', join(dir, 'state'), '--json'], { env });
  assert.is(json.code, EXIT.unavailable);
  assert.match(JSON.parse(json.stdout).error, 'brew install cirruslabs/cli/tart');
  const status = await runCli(['status', policy, '--backend', 'pf', '--state-dir', join(dir, 'state')], { env });
  assert.match(status.stdout, 'snapshots  unknown ("tart" is not installed (not found on PATH); install it with: brew install cirruslabs/cli/tart)\n');
});

t('status with nothing in force names enforce as the next step, not verify', async () => {
  const policy = join(dir, 'p.policy');
  writeFileSync(policy, 'vm v\n');
  const r = await runCli(['status', policy, '--backend', 'nft', '--state-dir', join(dir, 'state')], { env: { PATH: '', HOME: dir } });
  assert.is(r.code, EXIT.verifyFailed);
  assert.match(r.stdout, `  next:      nanopolicy enforce ${policy}   (nothing is in force)\n`);
  assert.not.match(r.stdout, 'run nanopolicy verify');
  const json = await runCli(['status', policy, '--backend', 'nft', '--state-dir', join(dir, 'state'), '--json'], { env: { PATH: '', HOME: dir } });
  assert.match(JSON.parse(json.stdout).next, 'nanopolicy enforce');
});

t('mistyped flags, commands and --skip groups: exit 64 with a did-you-mean', async () => {
  const r = await runCli(['check', 'policy/nanoclaw.policy', '--jsn']);
  assert.is(r.code, EXIT.usage);
  assert.match(r.stderr, 'Did you mean --json?');
  assert.match((await runCli(['chek'])).stderr, 'Did you mean check?');
  const skip = await runCli(['verify', 'policy/nanoclaw.policy', '--inside', '--skip', 'gatway,dns']);
  assert.is(skip.code, EXIT.usage);
  assert.match(skip.stderr, 'there is no probe group "gatway" (did you mean "gateway"?); the groups are bridges, hosts, gateway');
  const json = await runCli(['verify', 'policy/nanoclaw.policy', '--inside', '--skip', 'everything', '--json']);
  assert.equal(JSON.parse(json.stdout), { ok: false, error: '--skip: there is no probe group "everything"; the groups are bridges, hosts, gateway, direct, proxy, inject, egress, dns, icmp, mounts.', usage: true });
});

t('--inject-request and --inject-echo: a malformed value is exit 64 with the shape it needs', async () => {
  for (const bad of ['api.anthropic.com', 'api.anthropic.com=get/v1/models', 'api.anthropic.com=GET v1', 'a b=GET/x']) {
    const r = await runCli(['verify', 'policy/nanoclaw.policy', '--inside', '--inject-request', bad]);
    assert.is(r.code, EXIT.usage, bad);
    assert.match(r.stderr, 'is not HOST=METHOD/PATH (e.g. api.anthropic.com=GET/v1/models)');
  }
  const echo = await runCli(['verify', 'policy/nanoclaw.policy', '--inside', '--inject-echo', 'echo.test/x']);
  assert.is(echo.code, EXIT.usage);
  assert.match(echo.stderr, '--inject-echo takes host:port/path');
});

t('no policy named: every daily command reads ~/.config/nanopolicy/nanoclaw.policy, and says how to write one when it is missing', async () => {
  const env = { HOME: dir, PATH: '' };
  const none = await runCli(['check'], { env });
  assert.is(none.code, EXIT.policy);
  assert.is(none.stderr, 'error: no policy file was given, and there is none at ~/.config/nanopolicy/nanoclaw.policy.\n  hint: Write one with "nanopolicy init -o ~/.config/nanopolicy/nanoclaw.policy", or name the policy file.\n');
  mkdirSync(join(dir, '.config/nanopolicy'), { recursive: true });
  writeFileSync(join(dir, '.config/nanopolicy/nanoclaw.policy'), `vm home-vm\nmount groups ${dir}/groups rw\n`);
  mkdirSync(join(dir, 'groups'));
  const check = await runCli(['check'], { env });
  assert.is(check.code, 0, check.stderr);
  assert.match(check.stdout, `${dir}/.config/nanopolicy/nanoclaw.policy: ok`);
  const explain = await runCli(['explain', '~/groups/a'], { env });
  assert.is(explain.code, 0, explain.stderr);
  assert.match(explain.stdout, '"/Volumes/My Shared Files/groups/a"');
  const status = await runCli(['status', '--backend', 'nft', '--state-dir', join(dir, 'state'), '--json'], { env });
  assert.is(JSON.parse(status.stdout).vm, 'home-vm');
  assert.is((await runCli(['explain'], { env })).code, EXIT.usage);
});

t('the exit-code table in docs/cli.md and the README is the one the code uses', () => {
  for (const doc of ['docs/cli.md', 'README.md']) {
    const text = readFileSync(doc, 'utf8');
    const start = text.indexOf('| code | cause');
    assert.ok(start >= 0, `${doc} has the table`);
    // The table's rows: from below its header to the first line that is not a row.
    const lines = text.slice(start).split('\n').slice(2);
    const end = lines.findIndex((l) => !l.startsWith('| '));
    const codes = lines.slice(0, end < 0 ? undefined : end).map((l) => Number(l.split('|')[1]!.trim()));
    assert.equal(codes, Object.values(EXIT).sort((a, b) => a - b), doc);
  }
});

t.run();
