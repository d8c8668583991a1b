// enforce on a fake Mac, a failure at every step of the pf plan: each one undone completely
// (exit 3), and an undo that fails too (exit 4, the manual commands, a state --down can finish).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fakeMac, PF, PORT, type FakeMac } from './harness.ts';

const t = suite('enforce --backend pf (fake Mac)');
let f: FakeMac;
t.before.each(() => {
  f = fakeMac();
});
t.after.each(() => f.cleanup());

// Each step of the plan, and a fake failure that makes exactly it fail.
const FAILURES: Array<[step: string, fail: string]> = [
  ['load-anchor', 'pfctl:-f -@1'],
  ['kill-states', 'pfctl:-k@1'],
  ['enable-pf', 'pfctl:-E'],
  ['check-anchor', 'pfctl:-a com.apple/100.nanopolicy.t-vm -sr@1'],
  ['start-vm', 'tart:run'],
  ['find-interface', 'ifconfig:'],
  ['vm-address', 'tart:ip --wait'],
  ['reload-anchor', 'pfctl:-D vm_if'],
  ['bridge:alpha', `socat:LISTEN:${PORT.alpha}`],
  ['bridge:beta', `socat:LISTEN:${PORT.beta}`],
  ['recheck-pf', 'pfctl:-s info@2'],
];

for (const [step, spec] of FAILURES) {
  t(`a failure in "${step}" undoes everything: no anchor, token, VM, bridge or state; exit 3`, async () => {
    const r = await f.enforce([f.policy, ...PF], { NANOPOLICY_FAKE_FAIL: spec });
    assert.is(r.code, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`step "${step}" failed`), r.stderr);
    assert.match(r.stderr, /nothing is left changed/);
    const left = f.leftovers();
    assert.equal(left.anchors, []);
    assert.equal(left.tokens, []);
    assert.not.equal(left.vm, 'running');
    assert.equal(left.socat, []);
    assert.is(left.state, false);
    assert.not.ok(existsSync(join(f.stateDir, 'lock')));
  });
}

t('an undo that fails too gives exit 4, the exact manual commands, and a state --down can finish', async () => {
  const r = await f.enforce([f.policy, ...PF], { NANOPOLICY_FAKE_FAIL: `socat:LISTEN:${PORT.beta},pfctl:-F all` });
  assert.is(r.code, 4, r.stderr);
  assert.match(r.stderr, /could not undo everything\. Run these commands yourself:/);
  assert.match(r.stderr, /\n {2}sudo -n \/sbin\/pfctl -a com\.apple\/100\.nanopolicy\.t-vm -F all\n/);
  const left = f.leftovers();
  assert.equal(left.tokens, [], 'the other undos still ran');
  assert.equal(left.socat, []);
  assert.is(left.state, true);
  const down = await f.enforce([f.policy, ...PF, '--down']);
  assert.is(down.code, 0, down.stderr);
  assert.equal(f.leftovers(), { anchors: [], tokens: [], vm: 'stopped', socat: [], state: false });
});

t.run();
