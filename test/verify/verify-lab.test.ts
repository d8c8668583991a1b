// End-to-end: `nanopolicy verify` in the namespace lab. Uncaged it names the holes; caged (compile →
// enforce --backend nft) every probe holds; each injected fault makes it fail and name the fault
// (more faults, each in a lab of its own: verify-faults-lab.test.ts, run beside this file).

import * as assert from 'uvu/assert';
import { PLAN, requireLab } from '../lab/index.ts';
import { emitBridgesScript } from '../../src/compiler/emit/bridges-sh.ts';
import { assertNamed, sharedLabSuite, failures, killLabBridges, runVerify, startBridges, WITHOUT_SWEEP, type CagedLab } from './lab-setup.ts';

const available = requireLab('verify end-to-end tests');
// One lab for all, in this order: uncaged (1), caged and clean (2), then each fault added to what
// the earlier ones left (3a-3c), each asserting the failure only its own fault causes.
const { t, lab, caged } = sharedLabSuite('verify: lab end to end');

t('1. no enforcement: verify fails and names the holes', async () => {
  const current = await lab();
  const run = await runVerify(current);
  assertNamed(run, /gateway port 22 is OPEN — the host's SSH is reachable from the VM/);
  assertNamed(run, /nft table .* is not loaded/);
  assertNamed(run, /203\.0\.113\.10:443 is reachable from the VM/);
  assertNamed(run, /198\.51\.100\.11:8123 is reachable directly from the VM, around the bridge/);
  assertNamed(run, /DNS server 203\.0\.113\.53 answers the VM/);
  assertNamed(run, /canary 192\.168\.64\.1:\d+ saw/);
});

t('2. compile → enforce --backend nft → verify passes, every probe as expected', async () => {
  const current = await caged();
  const run = await runVerify(current);
  assert.equal(failures(run), []);
  assert.is(run.exitCode, 0);
  const groups = new Set(run.json.results.map((r) => r.group));
  for (const g of ['host', 'bridges', 'hosts', 'gateway', 'direct', 'egress', 'dns', 'mounts', 'canary']) assert.ok(groups.has(g), `no ${g} rows`);
  assert.ok((run.json.inside?.maxSocketsOpen ?? Infinity) <= (run.json.inside?.socketLimit ?? 0));
});

const nft = (c: CagedLab, rule: string) => c.lab.exec('host', ['sh', '-c', `nft insert rule ${c.table} ${rule}`]);

t('3a. fault: an extra accept rule to wan', async () => {
  const current = await caged();
  await nft(current, `forward ip daddr ${PLAN.wan.web} accept`);
  const run = await runVerify(current, WITHOUT_SWEEP);
  assertNamed(run, /203\.0\.113\.10:443 is reachable from the VM: traffic leaves the cage/);
  assertNamed(run, /differs from the compiled one: extra rule "forward: ip daddr 203\.0\.113\.10 accept"/);
});

t('3b. fault: socat bound to all addresses', async () => {
  const current = await caged();
  await killLabBridges(current);
  await startBridges(current, emitBridgesScript(current.policy).replaceAll(`bind=${current.lab.gateway}`, 'bind=0.0.0.0'));
  const run = await runVerify(current, WITHOUT_SWEEP);
  assertNamed(run, /bridge "ha" listens on 0\.0\.0\.0:18123, not only on the gateway/);
});

t('3c. fault: an accept rule opening another gateway port where a host service listens', async () => {
  const current = await caged();
  await nft(current, 'input tcp dport 22 accept');
  const run = await runVerify(current);
  assertNamed(run, /gateway port 22 is OPEN — the host's SSH is reachable from the VM/);
});

// Forged reports (replayed, canary-avoiding, lazy, escape sequences, host rows): forger-lab.test.ts.

if (available) t.run();
