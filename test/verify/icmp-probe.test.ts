// The ICMP probe's logic with stand-in ping commands (no packet is sent): one reply is a failure
// (to either of an address's two pings), silence and refusals are not, a ping that never ends is
// killed at the timeout, a missing ping is "NOT RUN" (no pass: issue 24), and an address reaches ping as one argument,
// never as shell text.

import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { icmpProbe } from '../../src/verify/inside/icmp.ts';

const t = suite('verify: icmp probe (stand-in ping)');
let dir = '';
let fake = '';

t.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'np-icmp-'));
  fake = join(dir, 'ping');
  // Answers for .1, refuses for .2, stays silent for .3, for .4 stays silent the first time and
  // answers the second (a lost echo); records every address it was given.
  writeFileSync(
    fake,
    `#!/bin/sh\nfor a; do last=$a; done\nprintf '%s\\n' "$last" >> '${dir}/seen'\ncase "$last" in\n  *.1) exit 0 ;;\n  *.2) exit 1 ;;\n  *.4) if [ -e '${dir}/lost' ]; then exit 0; fi; : > '${dir}/lost'; sleep 10 ;;\n  *) sleep 10 ;;\nesac\n`,
  );
  chmodSync(fake, 0o755);
});
t.after(() => rmSync(dir, { recursive: true, force: true }));

t('a reply fails, a refusal and silence pass, and silence ends at the timeout', async () => {
  const began = performance.now();
  const rows = await icmpProbe(['198.51.100.1', '198.51.100.2', '198.51.100.3'], 400, { ping: fake, ping6: fake });
  const took = performance.now() - began;
  assert.equal(rows.map((r) => [r.probe, r.measured, r.ok]), [
    ['ping 198.51.100.1', 'REPLY', false],
    ['ping 198.51.100.2', 'no reply', true],
    ['ping 198.51.100.3', 'no reply', true],
  ]);
  assert.ok(took >= 390 && took < 3000, `the silent ping ends at the timeout (${took} ms)`);
});

t('all answers in: the probe ends without waiting for the timeout', async () => {
  const began = performance.now();
  const rows = await icmpProbe(['198.51.100.1', '198.51.100.2'], 5000, { ping: fake, ping6: fake });
  assert.equal(rows.map((r) => r.ok), [false, true]);
  assert.ok(performance.now() - began < 4000);
});

t('an echo lost on the way is sent again half-way through the wait, so one loss is no false pass', async () => {
  rmSync(join(dir, 'lost'), { force: true });
  const began = performance.now();
  const rows = await icmpProbe(['198.51.100.4'], 2000, { ping: fake, ping6: fake });
  assert.equal(rows.map((r) => [r.measured, r.ok]), [['REPLY', false]]);
  assert.ok(performance.now() - began < 1900, 'the reply to the second ping ends the probe');
});

t('no ping in the VM: not run, and so no pass', async () => {
  const rows = await icmpProbe(['198.51.100.1'], 400, { ping: join(dir, 'missing-ping'), ping6: join(dir, 'missing-ping') });
  assert.equal(rows.map((r) => [r.measured, r.ok]), [['NOT RUN', false]]);
  assert.match(rows[0]!.detail!, /whether ICMP leaves the cage is unknown .*--skip icmp/);
});

t('an address is one argument to ping, never shell text', async () => {
  rmSync(join(dir, 'seen'), { force: true });
  const hostile = ['198.51.100.2; touch pwned', '$(touch pwned).2', '`touch pwned`.2'];
  await icmpProbe(hostile, 400, { ping: fake, ping6: fake });
  assert.equal(readFileSync(join(dir, 'seen'), 'utf8').trim().split('\n').sort(), [...hostile, ...hostile].sort(), 'two pings each');
  for (const where of [dir, process.cwd()]) assert.throws(() => readFileSync(join(where, 'pwned')), `a shell ran an address in ${where}`);
});

t.run();
