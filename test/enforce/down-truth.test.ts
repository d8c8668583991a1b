// Reports of --down that say only what happened (issue 24): a removal that could not be confirmed
// is never reported done, and a command printed for a person to run is concrete and safe — never
// one with a placeholder in it, never one that deletes the rollback point.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { downLocked } from '../../src/enforce/down.ts';
import { openSession } from '../../src/enforce/session.ts';
import { readState, writeState } from '../../src/formats/enforce-state.ts';
import type { CommandRunner } from '../../src/host/command-runner.ts';
import { stopBridge } from '../../src/enforce/bridge-step.ts';
import { stopProxy } from '../../src/enforce/proxy-step.ts';
import { fakeMac, POLICY, PF, type FakeMac } from './harness.ts';

const t = suite('enforce --down: every report true');
let f: FakeMac;
t.before.each(() => {
  f = fakeMac((root) => `${POLICY(root)}snapshot keep 3\n`);
});
t.after.each(() => f.cleanup());

/** A printed manual line that is a command (not a "#" note) and holds a placeholder like <token>. */
const placeholderCommand = (line: string) => !line.trim().startsWith('#') && /<[a-z][a-z0-9_-]*>/.test(line);

t('no state and "tart list" failing: no placeholder is printed as a command; it says what to look up', async () => {
  const down = await f.enforce([f.policy, ...PF, '--down'], { NANOPOLICY_FAKE_FAIL: 'tart:list' });
  assert.is(down.code, 4, down.stderr);
  const lines = down.stderr.split('\n');
  assert.equal(lines.filter(placeholderCommand), [], down.stderr);
  assert.not.match(down.stderr, /tart delete/);
  assert.match(down.stderr, /look up first — enable-pf: no pf reference token is recorded: "sudo pfctl -s References"/);
  assert.match(down.stderr, /look up first — snapshot-vm: no snapshot name is recorded, so none is deleted/);
  const json = JSON.parse((await f.enforce([f.policy, ...PF, '--down', '--json'], { NANOPOLICY_FAKE_FAIL: 'tart:list' })).stdout) as { manual: Array<{ commands: string[]; lookUp?: string[] }> };
  assert.equal(json.manual.flatMap((m) => m.commands).filter(placeholderCommand), []);
  assert.ok(json.manual.some((m) => (m.lookUp ?? []).length === 2), JSON.stringify(json.manual));
});

t('a completed enforce whose --down cannot stop the VM never prints "tart delete" of its snapshot (the rollback point)', async () => {
  const up = await f.enforce([f.policy, ...PF]);
  assert.is(up.code, 0, up.stderr);
  const state = readState(f.stateDir)!;
  assert.ok(state.complete && state.snapshot !== undefined, JSON.stringify(state));
  // As if the owner had started the VM (no pid of ours to signal), and its state cannot be read:
  // --down must halt before the rules, and print what is left.
  writeState(f.stateDir, { ...state, vmStarted: false, vmPid: undefined });
  const down = await f.enforce([f.policy, ...PF, '--down'], { NANOPOLICY_FAKE_FAIL: 'tart:list' });
  assert.is(down.code, 4, down.stderr);
  assert.not.match(down.stderr, /tart delete/);
  assert.match(down.stderr, /pfctl -X \d+/, 'the recorded token is printed: it is concrete');
  assert.equal(down.stderr.split('\n').filter(placeholderCommand), []);
});

// A runner on which every privileged command is refused, as `sudo -n` does without a sudoers line.
function refusingRunner(calls: string[]): CommandRunner {
  return {
    env: {},
    async run(c) {
      calls.push([c.file, ...c.args].join(' '));
      if (c.file === 'ip') return { exitCode: 0, stdout: '[]', stderr: '' };
      return { exitCode: 1, stdout: '', stderr: 'sudo: a password is required\n' };
    },
    spawn: () => 0,
    which: async () => undefined,
    alive: () => false,
    commandLine: async () => undefined,
    signal: () => undefined,
    sleep: async () => undefined,
  };
}

t('nft: with sudo refusing, --down does not claim the table is gone; it fails and says it could not tell', async () => {
  const calls: string[] = [];
  const opened = await openSession({
    policyFile: f.policy, backend: 'nft', stateDir: f.stateDir, start: false, waitSeconds: 1, home: f.root,
    env: f.env, cwd: f.root, log: () => undefined, runner: refusingRunner(calls),
  });
  if (!('session' in opened)) throw new Error(JSON.stringify(opened.diagnostics));
  const down = await downLocked(opened.session);
  const table = down.failures.find((x) => x.step === 'load-table');
  assert.ok(table, `no failure for the table: ${JSON.stringify(down)}`);
  assert.match(table.error, /Could not remove the nft table "nanopolicy_[a-z0-9_]+", nor tell whether it is still loaded: sudo: a password is required/);
  assert.ok(calls.some((c) => /nft delete table inet/.test(c)), calls.join('\n'));
});

t('nft: a table that is really gone ("No such file or directory") is fine to --down twice', async () => {
  const opened = await openSession({
    policyFile: f.policy, backend: 'nft', stateDir: f.stateDir, start: false, waitSeconds: 1, home: f.root,
    env: f.env, cwd: f.root, log: () => undefined,
    runner: { ...refusingRunner([]), run: async (c) => (c.file === 'ip' ? { exitCode: 0, stdout: '[]', stderr: '' } : { exitCode: 1, stdout: '', stderr: 'Error: No such file or directory\n' }) },
  });
  if (!('session' in opened)) throw new Error(JSON.stringify(opened.diagnostics));
  const down = await downLocked(opened.session);
  assert.equal(down.failures, []);
});

t('a bridge pid that is alive but whose command line cannot be read is not reported stopped', async () => {
  // A pid no /proc entry has (above any pid_max), that the runner says is alive, and ps fails on.
  const entry = { name: 'alpha', pid: 99_999_999, listen: 18080, range: '192.168.64.5/32', target: '198.51.100.10' } as Parameters<typeof stopBridge>[1];
  const runner = { ...refusingRunner([]), alive: () => true, commandLine: async () => undefined };
  const error = await stopBridge(runner, entry).then(() => undefined, (e: Error) => e);
  assert.ok(error, 'stopBridge claimed the bridge stopped');
  assert.match(error.message, /Could not tell whether pid 99999999 is still the bridge "alpha"/);
  // Gone for real: nothing to stop, no error.
  await stopBridge({ ...runner, alive: () => false }, entry);
  const proxy = { pid: 99_999_999, listen: { host: '192.168.64.1', port: 13128 }, allowClients: [], config: '/state/proxy.json', auditLog: '/state/audit.log', argv: [] };
  const proxyError = await stopProxy(runner, proxy).then(() => undefined, (e: Error) => e);
  assert.match(proxyError?.message ?? 'claimed stopped', /Could not tell whether pid 99999999 is still the egress proxy/);
  await stopProxy({ ...runner, alive: () => false }, proxy);
});

t.run();
