import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pfctlCommands } from '../../../src/compiler/emit/pfctl-commands.ts';
import { emitSudoers } from '../../../src/compiler/emit/sudoers.ts';
import { bundledPolicy, edgePolicy } from './sample-policy.ts';

const sudoers = suite('sudoers');

// The lines sudo reads: no comments, no blank lines.
function entries(text: string): string[] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

sudoers('no wildcard that could match spaces', () => {
  for (const line of entries(emitSudoers(bundledPolicy()))) assert.not.match(line, /\*/, line);
});

sudoers('every command enforce builds is allowed word for word', () => {
  const policy = bundledPolicy();
  const text = emitSudoers(policy);
  const pf = pfctlCommands(policy);
  for (const argv of [pf.load, pf.check, pf.flush, pf.showAnchorRules, pf.showMainRules, pf.info, pf.enable, pf.killStates]) {
    assert.ok(text.includes(`NOPASSWD: /sbin/pfctl ${argv.join(' ')}\n`), argv.join(' '));
  }
  assert.ok(text.includes('/sbin/pfctl -a com.apple/100.nanopolicy.nanoclaw-vm -D vm_if\\=bridge[0-9][0-9][0-9] -f -'));
  assert.ok(text.includes('/sbin/pfctl -n -D vm_if\\=bridge[0-9] -f -'));
  assert.ok(text.includes(`/sbin/pfctl -X ${'[0-9]'.repeat(20)}\n`));
  assert.not.ok(text.includes(`-X ${'[0-9]'.repeat(21)}`));
});

sudoers('pfctlCommands refuses values the sudoers patterns would not match', () => {
  const pf = pfctlCommands(bundledPolicy());
  assert.equal(pf.loadWithInterface('bridge101'), ['-a', 'com.apple/100.nanopolicy.nanoclaw-vm', '-D', 'vm_if=bridge101', '-f', '-']);
  assert.throws(() => pf.loadWithInterface('en0'));
  assert.throws(() => pf.loadWithInterface('bridge1 -F all'));
  assert.equal(pf.release('18446744073709551615'), ['-X', '18446744073709551615']);
  assert.throws(() => pf.release('1 -d'));
});

sudoers('the user can be named; alias names carry the VM', () => {
  const text = emitSudoers(edgePolicy(), { user: 'owner' });
  assert.match(text, /^owner ALL = \(root\) NOPASSWD: NANOPOLICY_RELEASE_EDGE_VM_2$/m);
  assert.throws(() => emitSudoers(edgePolicy(), { user: 'a b' }));
});

sudoers('the emitter itself refuses ALL and all-caps aliases, which could mean every user', () => {
  for (const user of ['ALL', '%ALL', 'ADMINS', 'SOME_ALIAS']) assert.throws(() => emitSudoers(edgePolicy(), { user }), /every user/, user);
  assert.match(emitSudoers(edgePolicy(), { user: 'Alice' }), /^Alice ALL = /m);
});

sudoers.run();
