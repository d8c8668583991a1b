// guest install and guest check through --exec into the lab's VM namespace, as the CLI runs them:
// /etc/hosts there is the namespace's own (ip netns exec binds /etc/netns/<ns>/hosts over it), so
// the VM's hosts file really changes and the host's does not. The guest user's HOME is a folder of
// the test; the fake launchctl stands in for the macOS guest's.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createLab, requireLab, type Lab } from '../lab/index.ts';
import { runCli } from '../helpers/run-cli.ts';

const available = requireLab('the guest install lab test');
const GUEST_BIN = join(import.meta.dirname, '../fixtures/guest-bin');
const t = suite('guest install: lab');
let lab: Lab;
t.before(async () => {
  lab = await createLab();
});
t.after(() => lab?.teardown());

t('install into the VM namespace, twice; the VM resolves the bridge name to the gateway; check is all ok', async () => {
  const home = join(lab.dir, 'guest-home');
  mkdirSync(home);
  const policy = join(lab.dir, 'p.policy');
  writeFileSync(policy, 'vm lab-vm\nallow vault vault.lab.test:443 via 18443 tls\negress claude api.egress.test\n');
  const hostHosts = readFileSync('/etc/hosts', 'utf8');
  const exec = `ip netns exec ${lab.ns.vm} env HOME=${home} PATH=${GUEST_BIN}:${dirname(process.execPath)}:/usr/bin:/bin`;
  const env = { PATH: process.env.PATH, HOME: lab.dir };
  const first = await runCli(['guest', 'install', policy, '--exec', exec, '--home', lab.dir], { env });
  assert.is(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, /changed +hosts lines/);
  const second = await runCli(['guest', 'install', policy, '--exec', exec, '--home', lab.dir, '--json'], { env });
  assert.is(second.code, 0);
  assert.ok(JSON.parse(second.stdout).steps.every((s: { status: string }) => s.status === 'unchanged' || s.status === 'ok'), second.stdout);
  // Inside the VM namespace the name resolves to the gateway; the host's own /etc/hosts is untouched.
  const resolved = await lab.exec('vm', ['getent', 'hosts', 'vault.lab.test']);
  assert.match(resolved.stdout, /^192\.168\.64\.1\s+vault\.lab\.test/);
  assert.is(readFileSync('/etc/hosts', 'utf8'), hostHosts);
  const vmHosts = await lab.exec('vm', ['cat', '/etc/hosts']);
  assert.is(vmHosts.stdout.split('# >>> nanopolicy lab-vm').length, 2, 'one block');
  const check = await runCli(['guest', 'check', policy, '--exec', exec, '--home', lab.dir], { env });
  assert.is(check.code, 0, check.stdout);
  assert.not.match(check.stdout, /FAILED|MISSING|DIFFERS|NOT-LOADED/);
});

if (available) t.run();
