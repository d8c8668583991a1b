// doctor: each check's verdicts, from what an owner leaves behind (an old sudoers file, a boot job
// naming a program that is gone, pf disabled under a running cage), then the whole command on the
// fake Mac (test/fixtures/bin) before and after enforce. A check that could not run is "unknown".

import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { CommandRunner, CmdResult } from '../../src/host/command-runner.ts';
import type { Cmd } from '../../src/host/command.ts';
import { launchdRow } from '../../src/doctor/launchd-check.ts';
import { pfEnabledRow } from '../../src/doctor/pf-enabled-check.ts';
import { sudoersRow } from '../../src/doctor/sudoers-check.ts';
import { main } from '../../src/cli/main.ts';
import { fakeMac, PF, type FakeMac } from '../enforce/harness.ts';

const t = suite('doctor');

// A runner that answers each command line from a table (exit 127 for anything else).
function answering(table: Record<string, Partial<CmdResult>>): CommandRunner {
  return {
    async run(c: Cmd) {
      const line = [c.file, ...c.args].join(' ');
      const a = table[line];
      return { exitCode: a?.exitCode ?? (a ? 0 : 127), stdout: a?.stdout ?? '', stderr: a?.stderr ?? (a ? '' : `${c.file}: not found`) };
    },
  } as unknown as CommandRunner;
}
const enoent = (): never => {
  throw Object.assign(new Error('nope'), { code: 'ENOENT' });
};
const eacces = (): never => {
  throw Object.assign(new Error('nope'), { code: 'EACCES' });
};

const SUDOERS = '# header\n%admin ALL = (root) NOPASSWD: /sbin/pfctl -s info\nCmnd_Alias A = /sbin/pfctl -X [0-9], /sbin/pfctl -X [0-9][0-9]\n%admin ALL = (root) NOPASSWD: A\n';

t('sudoers: equal is ok; missing, older or unlisted fails; unreadable without sudo -l is unknown', async () => {
  const none = answering({});
  assert.is((await sudoersRow('vm', SUDOERS, none, () => SUDOERS)).status, 'ok');
  const older = await sudoersRow('vm', SUDOERS, none, () => SUDOERS.replace('-s info', '-s all'));
  assert.is(older.status, 'fail');
  assert.match(older.fix!, 'sudo install -m 0440 -o root -g wheel OUT/sudoers /etc/sudoers.d/nanopolicy-vm');
  assert.is((await sudoersRow('vm', SUDOERS, none, enoent)).status, 'fail');
  // Readable by root only: what sudo -n -l lists decides.
  const listed = answering({ 'sudo -n -l': { stdout: 'User owner may run:\n    (root) NOPASSWD: /sbin/pfctl -s info\n    (root) NOPASSWD: /sbin/pfctl -X [0-9], /sbin/pfctl -X [0-9][0-9]\n' } });
  assert.is((await sudoersRow('vm', SUDOERS, listed, eacces)).status, 'ok');
  const partly = answering({ 'sudo -n -l': { stdout: '(root) NOPASSWD: /sbin/pfctl -s info\n' } });
  const p = await sudoersRow('vm', SUDOERS, partly, eacces);
  assert.is(p.status, 'fail');
  assert.match(p.detail, 'lacks 2 of the 3 compiled commands');
  const password = answering({ 'sudo -n -l': { exitCode: 1, stderr: 'sudo: a password is required' } });
  assert.is((await sudoersRow('vm', SUDOERS, password, eacces)).status, 'unknown');
});

t('the boot job: a program that is gone fails; not installed warns; not loaded fails; loaded with a real program is ok', async () => {
  const dir = join('/tmp', `np-doctor-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const program = join(dir, 'nanopolicy');
  writeFileSync(program, '#!/bin/sh\n');
  chmodSync(program, 0o755);
  const plist = (p: string) => `<plist><dict><key>ProgramArguments</key>\n\t<array>\n\t\t<string>${p}</string>\n\t\t<string>enforce</string></array></dict></plist>`;
  const facts = { label: 'dev.nanopolicy.vm', plistPath: '/Library/LaunchDaemons/dev.nanopolicy.vm.plist' };
  const loaded = answering({ 'launchctl print system/dev.nanopolicy.vm': { stdout: 'state = running' } });
  assert.is((await launchdRow(facts, loaded, enoent)).status, 'warn');
  const gone = await launchdRow(facts, loaded, () => plist('/usr/local/bin/nanopolicy-gone'));
  assert.is(gone.status, 'fail');
  assert.match(gone.detail, 'which does not exist');
  assert.is((await launchdRow(facts, answering({ 'launchctl print system/dev.nanopolicy.vm': { exitCode: 113 } }), () => plist(program))).status, 'fail');
  assert.is((await launchdRow(facts, loaded, () => plist(program))).status, 'ok');
  assert.is((await launchdRow(facts, answering({}), () => plist(program))).status, 'unknown', 'no launchctl: cannot tell');
});

t('pf: disabled is ok before enforce and a failure under a cage in force; no answer is unknown', async () => {
  const info = { file: 'sudo', args: ['-n', '/sbin/pfctl', '-s', 'info'] };
  const says = (status: string) => answering({ 'sudo -n /sbin/pfctl -s info': { stdout: `Status: ${status} for 0 days\n` } });
  assert.is((await pfEnabledRow(info, says('Enabled'), true)).status, 'ok');
  assert.is((await pfEnabledRow(info, says('Disabled'), false)).status, 'ok');
  assert.is((await pfEnabledRow(info, says('Disabled'), true)).status, 'fail');
  assert.is((await pfEnabledRow(info, answering({}), true)).status, 'unknown');
});

let mac: FakeMac;
t.before.each(() => {
  mac = fakeMac();
});
t.after.each(() => mac?.cleanup());

async function doctor(args: string[]): Promise<{ code: number; stdout: string; rows: Array<{ id: string; status: string; detail: string }> }> {
  let stdout = '';
  const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: () => true }, env: mac.env };
  const code = await main(['node', 'nanopolicy', 'doctor', mac.policy, '--state-dir', mac.stateDir, '--home', mac.root, ...args], io);
  return { code, stdout, rows: args.includes('--json') ? JSON.parse(stdout).rows : [] };
}

t('on the fake Mac: before enforce it names what is missing; after enforce the cage is in force and the guest is checked', async () => {
  const before = await doctor(['--backend', 'pf', '--json']);
  assert.is(before.code, 2);
  const by = (rows: typeof before.rows, id: string) => rows.find((r) => r.id === id);
  assert.is(by(before.rows, 'tools')!.status, 'ok');
  assert.is(by(before.rows, 'vm')!.status, 'ok', 'enforce\'s own check: the VM exists and is stopped');
  assert.is(by(before.rows, 'vm-state')!.detail, 'stopped');
  assert.is(by(before.rows, 'sudoers')!.status, 'fail', 'this machine has no /etc/sudoers.d/nanopolicy-t-vm');
  assert.is(by(before.rows, 'in-force')!.status, 'warn');
  assert.is(by(before.rows, 'guest')!.status, 'warn');
  assert.is(by(before.rows, 'last-verify')!.status, 'warn');
  assert.not.ok(mac.calls().some((c) => /pfctl .*(-f -|-E|-X|-F all|-k)|^tart (run|stop)|^socat/.test(c)), 'doctor changes nothing');

  const applied = await mac.enforce([mac.policy, ...PF]);
  assert.is(applied.code, 0, applied.stderr);
  const home = join(mac.root, 'guest-home');
  mkdirSync(home);
  const exec = `env HOME=${home} PATH=${join(import.meta.dirname, '../fixtures/guest-bin')}:${dirname(process.execPath)}:/usr/bin:/bin`;
  const after = await doctor(['--backend', 'pf', '--exec', exec, '--json']);
  assert.is(by(after.rows, 'in-force')!.status, 'ok', JSON.stringify(by(after.rows, 'in-force')));
  assert.not.ok(by(after.rows, 'vm'), 'the stopped-VM check is not asked of a cage in force');
  assert.is(by(after.rows, 'guest')!.status, 'fail', 'the guest is not set up yet');
  const text = await doctor(['--backend', 'pf', '--exec', exec]);
  assert.match(text.stdout, /FAIL +the guest's side \(nanopolicy guest check\): .*\n +fix: Run "nanopolicy guest install"\./);
  assert.match(text.stdout, /\d+ ok, \d+ warnings?, \d+ failed, \d+ unknown/);
  await mac.enforce([mac.policy, ...PF, '--down']);
});

t.run();
