// guest install and guest check, their sh commands run for real on this machine with a throw-away
// HOME and a hosts file of the test's own (never /etc/hosts here), behind an `env` prefix in
// place of `tart exec`; the fake launchctl (test/fixtures/guest-bin) stands in for a macOS guest's.
// What an owner would do to it: install twice, append the block by hand, break a marker, edit
// proxy.env, lack Node or launchctl, point it at a VM that does not answer.

import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compilePolicy } from '../../src/compiler/compile.ts';
import { emitArtifacts } from '../../src/compiler/emit/index.ts';
import { createRunner } from '../../src/host/command-runner.ts';
import { guestCheck } from '../../src/guest/guest-check.ts';
import { guestInstall, installCommands } from '../../src/guest/guest-install.ts';
import { showGuestCommand } from '../../src/guest/guest-exec.ts';
import { guestPlan, type GuestPlan } from '../../src/guest/guest-plan.ts';
import { blockMarkers } from '../../src/guest/marked-block.ts';
import { runCli } from '../helpers/run-cli.ts';

const t = suite('guest install');
const GUEST_BIN = join(import.meta.dirname, '../fixtures/guest-bin');
const POLICY = 'vm lab-vm\nallow vault vault.lab.test:443 via 18443 tls\negress claude api.egress.test\n';
let dir = '';
t.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'np-guest-'));
});
t.after.each(() => rmSync(dir, { recursive: true, force: true }));

function compiled(source = POLICY, extra: Array<{ name: string; content: string }> = []) {
  const outcome = compilePolicy({ file: 'p.policy', source, home: '/Users/owner', cwd: '/' });
  assert.ok(outcome.policy, JSON.stringify(outcome.diagnostics));
  const artifacts = [...emitArtifacts(outcome.policy!), ...extra.map((a) => ({ ...a, mode: 0o644, description: '' }))];
  return { policy: outcome.policy!, artifacts };
}

// The plan with /etc/hosts swapped for a file of this test.
function planFor(source?: string, extra?: Array<{ name: string; content: string }>): { plan: GuestPlan; hosts: string } {
  const { policy, artifacts } = compiled(source, extra);
  const hosts = join(dir, 'etc-hosts');
  writeFileSync(hosts, '127.0.0.1 localhost\n10.0.0.5 nas.home\n');
  const plan = guestPlan(policy, artifacts);
  return { plan: { ...plan, files: plan.files.map((f) => (f.id === 'hosts' ? { ...f, path: { absolute: hosts } } : f)) }, hosts };
}

function exec(path = `${GUEST_BIN}:${dirname(process.execPath)}:/usr/bin:/bin`) {
  return { prefix: ['env', `HOME=${join(dir, 'home')}`, `PATH=${path}`], runner: createRunner({ PATH: process.env.PATH }) };
}

const statuses = (r: { steps: Array<{ id: string; status: string }> }) => Object.fromEntries(r.steps.map((s) => [s.id, s.status]));

t('install writes every file, loads the agent, and a second install changes nothing', async () => {
  const { plan, hosts } = planFor();
  const first = await guestInstall(plan, exec(), false);
  assert.equal(statuses(first), { node: 'ok', hosts: 'changed', 'proxy-env': 'changed', 'login-shell': 'changed', 'launch-agent': 'changed', 'launch-agent-loaded': 'changed' });
  const M = blockMarkers('nanopolicy lab-vm');
  assert.is(readFileSync(hosts, 'utf8'), `127.0.0.1 localhost\n10.0.0.5 nas.home\n${M.begin}\n192.168.64.1 vault.lab.test\n${M.end}\n`);
  const home = join(dir, 'home');
  assert.match(readFileSync(join(home, '.config/nanopolicy/proxy.env'), 'utf8'), 'HTTPS_PROXY=http://192.168.64.1:13128\n');
  assert.match(readFileSync(join(home, '.zprofile'), 'utf8'), '. "$HOME/.config/nanopolicy/proxy.env"');
  const agent = readFileSync(join(home, 'Library/LaunchAgents/dev.nanopolicy.proxy-env.plist'), 'utf8');
  assert.match(agent, 'launchctl setenv HTTPS_PROXY http://192.168.64.1:13128; ');
  assert.ok(existsSync(join(home, '.fake-launchd/dev.nanopolicy.proxy-env')), 'bootstrapped');
  // A login shell really gets the variables from what was written.
  const login = createRunner({ PATH: process.env.PATH });
  const shell = await login.run({ file: 'env', args: [`HOME=${home}`, 'sh', '-c', '. "$HOME/.zprofile"; echo "$HTTPS_PROXY $NODE_USE_ENV_PROXY"'] });
  assert.is(shell.stdout.trim(), 'http://192.168.64.1:13128 1');

  const second = await guestInstall(plan, exec(), false);
  assert.equal(statuses(second), { node: 'ok', hosts: 'unchanged', 'proxy-env': 'unchanged', 'login-shell': 'unchanged', 'launch-agent': 'unchanged', 'launch-agent-loaded': 'unchanged' });
  assert.is(readFileSync(hosts, 'utf8').split(M.begin).length, 2, 'one block, not two');
  const check = await guestCheck(plan, exec(), false);
  assert.ok(check.steps.every((s) => s.status === 'ok'), JSON.stringify(check.steps));
});

t('a block appended twice by hand becomes one; a changed policy replaces its lines; the owner\'s lines stay', async () => {
  const M = blockMarkers('nanopolicy lab-vm');
  const { plan, hosts } = planFor();
  writeFileSync(hosts, `127.0.0.1 localhost\n${M.begin}\n192.168.64.1 old.lab.test\n${M.end}\n10.0.0.5 nas.home\n${M.begin}\n192.168.64.1 old.lab.test\n${M.end}\n`);
  const before = await guestCheck(plan, exec(), false);
  assert.equal(before.steps.find((s) => s.id === 'hosts')!.status, 'differs');
  const r = await guestInstall(plan, exec(), false);
  assert.match(r.steps.find((s) => s.id === 'hosts')!.detail, 'replaced 2 blocks by one');
  assert.is(readFileSync(hosts, 'utf8'), `127.0.0.1 localhost\n${M.begin}\n192.168.64.1 vault.lab.test\n${M.end}\n10.0.0.5 nas.home\n`);
});

t('a broken marker stops install before it writes that file, with the fix; check says the same', async () => {
  const M = blockMarkers('nanopolicy lab-vm');
  const { plan, hosts } = planFor();
  const broken = `127.0.0.1 localhost\n${M.begin}\n10.0.0.5 nas.home\n`;
  writeFileSync(hosts, broken);
  const r = await guestInstall(plan, exec(), false);
  const step = r.steps.find((s) => s.id === 'hosts')!;
  assert.is(step.status, 'failed');
  assert.match(step.detail, 'line 2 opens a nanopolicy block that never ends');
  assert.match(step.fix!, 'by hand');
  assert.is(readFileSync(hosts, 'utf8'), broken, 'the owner\'s file is untouched');
  assert.not.ok(r.steps.some((s) => s.id === 'proxy-env'), 'install stops at the first failure');
  assert.is((await guestCheck(plan, exec(), false)).steps.find((s) => s.id === 'hosts')!.status, 'failed');
});

t('check names what differs or is missing; no Node, no launchctl and an unreachable guest are never ok', async () => {
  const { plan } = planFor();
  await guestInstall(plan, exec(), false);
  writeFileSync(join(dir, 'home/.config/nanopolicy/proxy.env'), 'HTTPS_PROXY=http://evil.example.test:1\n');
  rmSync(join(dir, 'home/.zprofile'));
  const check = await guestCheck(plan, exec(), false);
  assert.equal(statuses(check)['proxy-env'], 'differs');
  assert.equal(statuses(check)['login-shell'], 'missing');
  // A guest without Node (verify cannot run its probes) and without launchctl (not macOS).
  const bare = join(dir, 'bare-bin');
  mkdirSync(bare);
  const noNode = await guestCheck(plan, exec(`${bare}:/usr/bin:/bin`), false);
  if (!existsSync('/usr/bin/node') && !existsSync('/bin/node')) {
    assert.equal(noNode.steps.find((s) => s.id === 'node')!.status, 'missing');
    assert.match(noNode.steps.find((s) => s.id === 'node')!.fix!, 'Install Node 20 or later');
  }
  assert.equal(statuses(noNode)['launch-agent-loaded'], 'not-loaded');
  // An old Node is not enough for the probes.
  writeFileSync(join(bare, 'node'), '#!/bin/sh\necho v18.19.0\n');
  chmodSync(join(bare, 'node'), 0o755);
  const oldNode = await guestCheck(plan, exec(`${bare}:/usr/bin:/bin`), false);
  assert.equal(oldNode.steps.find((s) => s.id === 'node')!.status, 'differs');
  // A VM that does not answer.
  const gone = await guestInstall(plan, { prefix: [join(dir, 'no-such-tart'), 'exec', '-i', 'lab-vm'], runner: createRunner({ PATH: '' }) }, true);
  assert.is(gone.reachable, false);
  assert.equal(gone.steps.map((s) => [s.id, s.status]), [['guest-agent', 'failed']]);
});

t('the CA seam: proxy-ca.pem is installed and trusted by Node only when the compiled output has one', async () => {
  const without = planFor().plan;
  assert.not.ok(without.files.some((f) => f.id === 'proxy-ca'));
  assert.ok(without.notes.some((n) => n.includes('no proxy-ca.pem')));
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const { plan } = planFor(POLICY, [{ name: 'proxy-ca.pem', content: pem }]);
  await guestInstall(plan, exec(), false);
  const home = join(dir, 'home');
  assert.is(readFileSync(join(home, '.config/nanopolicy/proxy-ca.pem'), 'utf8'), pem);
  assert.match(readFileSync(join(home, '.zprofile'), 'utf8'), 'export NODE_EXTRA_CA_CERTS="$HOME/.config/nanopolicy/proxy-ca.pem"');
  assert.match(readFileSync(join(home, 'Library/LaunchAgents/dev.nanopolicy.proxy-env.plist'), 'utf8'), 'launchctl setenv NODE_EXTRA_CA_CERTS');
});

t('a policy without egress installs the hosts lines only, and says so', () => {
  const { plan } = planFor('vm lab-vm\nallow vault vault.lab.test:443 via 18443 tls\n');
  assert.equal(plan.files.map((f) => f.id), ['hosts']);
  assert.match(plan.notes[0]!, 'lists no egress');
});

t('--dry-run shows every guest command through tart exec and runs none', async () => {
  const policy = join(dir, 'p.policy');
  writeFileSync(policy, POLICY);
  const r = await runCli(['guest', 'install', policy, '--dry-run', '--home', dir], { env: { PATH: join(dir, 'nothing'), HOME: dir } });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, 'guest install for "lab-vm" would run, through tart exec -i lab-vm');
  assert.match(r.stdout, "  tart exec -i lab-vm sh -c 'case $1 in /*) f=$1 ;; *) f=$HOME/$1 ;; esac; [ -e \"$f\" ] || exit 3; cat -- \"$f\"' sh /etc/hosts\n");
  assert.match(r.stdout, '< <new /etc/hosts>');
  assert.match(r.stdout, '    192.168.64.1 vault.lab.test\n');
  const { plan } = planFor();
  assert.is(installCommands(plan).length, 1 + 2 * plan.files.length + 2);
  assert.match(showGuestCommand({ prefix: ['tart', 'exec', '-i', 'lab-vm'] }, installCommands(plan)[0]!), /^tart exec -i lab-vm sh -c /);
  const json = await runCli(['guest', 'install', policy, '--dry-run', '--json', '--home', dir], { env: { PATH: '', HOME: dir } });
  assert.is(JSON.parse(json.stdout).commands.length, installCommands(plan).length);
});

t('the CLI: check exit codes (2 not set up, 69 unreachable) and JSON', async () => {
  const policy = join(dir, 'p.policy');
  writeFileSync(policy, POLICY);
  const unreachable = await runCli(['guest', 'check', policy, '--home', dir, '--json'], { env: { PATH: join(dir, 'nothing'), HOME: dir } });
  assert.is(unreachable.code, 69);
  const out = JSON.parse(unreachable.stdout);
  assert.is(out.reachable, false);
  assert.match(out.steps[0].fix, 'brew install cirruslabs/cli/tart');
  mkdirSync(join(dir, 'home'));
  const env = { PATH: process.env.PATH, HOME: dir };
  const notSetUp = await runCli(['guest', 'check', policy, '--home', dir, '--exec', `env HOME=${join(dir, 'home')} PATH=${GUEST_BIN}:${dirname(process.execPath)}:/usr/bin:/bin`], { env });
  assert.is(notSetUp.code, 2, notSetUp.stdout + notSetUp.stderr);
  assert.match(notSetUp.stdout, 'MISSING');
  assert.match(notSetUp.stdout, 'fix: Run "nanopolicy guest install".');
});

t.run();
