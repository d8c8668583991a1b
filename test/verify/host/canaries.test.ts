// Canaries on the gateway: the host's own evidence. One that could not listen is no pass (issue 24).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { openCanaries } from '../../../src/verify/host/canaries.ts';

const t = suite('verify: canaries');

t('nothing enforced (no interface holds the gateway): the canary row is NOT RUN and counts as wrong', async () => {
  // 192.0.2.77 (TEST-NET-1) is on no interface here: binding it fails with EADDRNOTAVAIL, as the
  // gateway address does on a Mac whose VM is not running. Nothing is sent.
  const canaries = await openCanaries('192.0.2.77', []);
  assert.equal(canaries.ports, []);
  const rows = await canaries.close();
  assert.is(rows.length, 1);
  assert.is(rows[0]!.ok, false);
  assert.is(rows[0]!.measured, 'NOT RUN (EADDRNOTAVAIL)');
  assert.match(rows[0]!.detail!, /no interface of this host holds 192\.0\.2\.77/);
});

t('canaries that listen and see nothing pass, one row each', async () => {
  const canaries = await openCanaries('127.0.0.1', []);
  assert.is(canaries.ports.length, 5);
  const rows = await canaries.close();
  assert.equal(rows.map((r) => r.ok), [true, true, true, true, true]);
});

t.run();
