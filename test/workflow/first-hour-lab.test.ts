// The README's migration section, played end to end in the lab as a new owner would: a fresh HOME
// (no ~/.config yet), `init` on a NanoClaw tree whose bridge script binds the VM's address,
// `explain`, `compile`, `enforce` (nft: the lab is Linux), `guest install` into the VM namespace,
// `verify` green, `doctor` with nothing failed, and `rollback --dry-run`. The one edit the test
// makes to init's policy: its egress names (api.anthropic.com, discord.com …) become the lab's
// .test names, since a test never resolves a real name.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as assert from 'uvu/assert';
import { suite } from 'uvu';
import { cliArgs } from '../helpers/cli-process.ts';
import { PLAN, createLab, requireLab, type Lab } from '../lab/index.ts';
import { buildProbe } from '../verify/lab-setup.ts';

const available = requireLab("the owner's first hour, end to end");
const ROOT = join(import.meta.dirname, '../..');
const GUEST_BIN = join(import.meta.dirname, '../fixtures/guest-bin');
const WEB = '203.0.113.20';
const NAMES = ['api.egress.test', 'chat.egress.test'];
const [VAULT, HA] = [PLAN.lan.services[0]!, PLAN.lan.services[1]!];

const t = suite("the owner's first hour (lab)");
let lab: Lab;
let home: string;

t.before(async () => {
  await buildProbe();
  lab = await createLab({ wanAddresses: [WEB], hostHosts: Object.fromEntries(NAMES.map((n) => [n, WEB])) });
  await lab.startTlsService('lan', VAULT, 8443, { name: 'vault', names: ['vault.lab.test'] });
  await lab.startTcpService('lan', HA, 8123, { name: 'ha' });
  await lab.startTlsService('wan', WEB, 443, { name: 'egress-web', names: NAMES });
  await lab.startTcpService('wan', PLAN.wan.web, 443, { name: 'web' });
  await lab.startDns('wan', PLAN.wan.dns, { 'web.lab.test': PLAN.wan.web }, { name: 'public-dns' });
  await lab.startTcpService('host', lab.gateway, 22, { name: 'host-ssh', banner: 'SSH-2.0-lab\r\n' });
  home = join(lab.dir, 'home');
  mkdirSync(home);
});
t.after(() => lab?.teardown());

const env = () => ({ PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: home, NO_COLOR: '1' });
async function np(args: string[], timeoutMs = 90_000) {
  return lab.exec('host', ['node', ...(await cliArgs()), ...args], { cwd: ROOT, env: env(), timeoutMs });
}

t('init → explain → compile → enforce → guest install → verify green → doctor → rollback --dry-run', async () => {
  // A NanoClaw install: its folders are the lab's shares (bind-mounted where the VM sees them).
  const view = lab.shares([
    { name: 'groups', mode: 'rw', files: { 'main/CLAUDE.md': '# main\n' } },
    { name: 'data', mode: 'rw', files: { 'sessions/.keep': '' } },
    { name: 'memory', mode: 'rw', files: { 'notes.md': '' } },
    {
      name: 'scripts',
      mode: 'ro',
      files: {
        'bridges.sh': `#!/bin/sh\nVM_IP=192.168.64.2\nsocat TCP-LISTEN:18443,fork,reuseaddr,bind=$VM_IP TCP:vault.lab.test:8443 &\nsocat TCP-LISTEN:18123,fork,reuseaddr,bind=$VM_IP TCP:${HA}:8123 &\n`,
      },
    },
  ]);
  const install = dirname(view.hostDirs.groups!);
  writeFileSync(join(install, '.env'), 'ANTHROPIC_API_KEY=sk-ant-lab-secret\nDISCORD_TOKEN=lab-token\n');
  const policy = join(home, '.config/nanopolicy/nanoclaw.policy');

  // 1. init into a home that has no ~/.config yet.
  const init = await np(['init', '--from', install, '--vm', 'lab-vm', '-o', policy]);
  assert.is(init.exitCode, 0, init.stderr);
  let text = readFileSync(policy, 'utf8');
  for (const line of ['snapshot keep 3', 'allow vaultwarden vault.lab.test:8443 via 18443 tls', `allow homeassistant ${HA}:8123 via 18123`, 'egress claude api.anthropic.com inject x-api-key: {anthropic}', 'secret discord from keychain nanoclaw-discord env DISCORD_TOKEN']) {
    assert.ok(text.split('\n').includes(line), `init wrote "${line}":\n${text}`);
  }
  assert.not.match(text + init.stderr, 'sk-ant-lab-secret');
  assert.not.match(text + init.stderr, 'lab-token');
  // The lab has no keychain and no real names: the secrets and the extra egress lines init wrote
  // for them go (credential injection in the lab is the inject tests'); the two rules name the lab.
  text = text.replace(/^secret .*\n/gm, '').replace(/^egress (claude-signin|discord-gateway|discord-cdn) .*\n/gm, '');
  text = text.replace(/^egress claude .*$/m, `egress claude ${NAMES[0]}`).replace(/^egress discord .*$/m, `egress discord ${NAMES[1]}`);
  writeFileSync(policy, text);

  // 3. explain, with no policy path: the default location.
  const explain = await np(['explain', `${HA}:8123`, '--backend', 'nft']);
  assert.is(explain.exitCode, 0, explain.stderr);
  assert.match(explain.stdout, `reachable only as ${lab.gateway}:18123 through the bridge "homeassistant"`);

  // 4. compile, enforce (nft in the lab), guest install through --exec into the VM namespace.
  const out = join(home, '.config/nanopolicy/out');
  const compile = await np(['compile', '-o', out, '--user', 'owner']); // the lab runs as root; a Mac owner compiles as themselves
  assert.is(compile.exitCode, 0, compile.stderr);
  const stateDir = join(lab.dir, 'state');
  const enforce = await np(['enforce', '--backend', 'nft', '--vm-address', lab.vmAddress, '--state-dir', stateDir, '--wait', '5']);
  assert.is(enforce.exitCode, 0, `${enforce.stdout}\n${enforce.stderr}`);
  const guestHome = join(lab.dir, 'guest-home');
  mkdirSync(guestHome);
  const exec = `ip netns exec ${lab.ns.vm} env HOME=${guestHome} PATH=${GUEST_BIN}:${dirname(process.execPath)}:/usr/bin:/bin`;
  const guest = await np(['guest', 'install', '--exec', exec]);
  assert.is(guest.exitCode, 0, guest.stdout + guest.stderr);

  // 5. verify until 0 wrong: the first run is green.
  const verify = await np([
    'verify', '--backend', 'nft', '--state-dir', stateDir, '--exec', `ip netns exec ${lab.ns.vm}`,
    '--egress', `${PLAN.wan.web}:443,${PLAN.wan.dns}:53`, '--dns-servers', PLAN.wan.dns, '--dns-name', 'web.lab.test',
    '--ca', lab.ca.path, '--shares-root', view.root, '--skip', 'icmp', '--timeout', '400', '--budget', '60000', '--json',
  ]);
  const report = JSON.parse(verify.stdout) as { results: Array<{ ok: boolean; probe: string; detail?: string }> };
  const wrong = report.results.filter((r) => !r.ok).map((r) => r.detail ?? r.probe);
  assert.equal(wrong, [], wrong.join('\n'));
  assert.is(verify.exitCode, 0);

  // status and doctor: in force, nothing failed.
  const status = await np(['status', '--backend', 'nft', '--state-dir', stateDir]);
  assert.is(status.exitCode, 0, status.stdout);
  const doctor = await np(['doctor', '--backend', 'nft', '--state-dir', stateDir, '--exec', exec, '--json']);
  const rows = (JSON.parse(doctor.stdout) as { rows: Array<{ id: string; status: string; detail: string }> }).rows;
  const notOk = rows.filter((r) => r.status !== 'ok' && r.status !== 'skipped').map((r) => `${r.id}: ${r.status} ${r.detail}`);
  assert.equal(notOk, [], notOk.join('\n'));
  assert.is(doctor.exitCode, 0);
  for (const id of ['in-force', 'guest', 'last-verify', 'tools']) assert.is(rows.find((r) => r.id === id)?.status, 'ok', id);

  // 6. the bad day, rehearsed: rollback --dry-run changes nothing.
  const rollback = await np(['rollback', '--dry-run', '--backend', 'nft', '--state-dir', stateDir]);
  assert.is(rollback.exitCode, 0, rollback.stdout + rollback.stderr);
  assert.match(rollback.stdout, 'Rollback plan for the VM "lab-vm"');

  const down = await np(['enforce', '--down', '--backend', 'nft', '--state-dir', stateDir]);
  assert.is(down.exitCode, 0, down.stderr);
});

if (available) t.run();
