// End-to-end: `nanopolicy verify` in the namespace lab, more injected faults (see verify-lab.test.ts):
// DNS to the gateway, a ro share writable, an undeclared share, a killed bridge. Each makes verify
// fail and name the fault. None involves the gateway's other ports, so none sweeps them.

import { PLAN, requireLab } from '../lab/index.ts';
import { assertNamed, sharedLabSuite, killLabBridges, runVerify, WITHOUT_SWEEP, type CagedLab } from './lab-setup.ts';

const available = requireLab('verify end-to-end tests');
// One caged lab for all: each test adds its fault to what the earlier ones left, and asserts the
// failure only its own fault causes. 3d, whose rule makes the table differ from what enforce
// recorded, is last.
const { t, caged } = sharedLabSuite('verify: lab end to end, more faults');

const nft = (c: CagedLab, rule: string) => c.lab.exec('host', ['sh', '-c', `nft insert rule ${c.table} ${rule}`]);

t('3e. fault: a ro share remounted writable', async () => {
  const current = await caged();
  current.lab.faults.remountShareRw('scripts');
  const run = await runVerify(current, WITHOUT_SWEEP);
  assertNamed(run, /share "scripts" is WRITABLE from the VM but the policy says ro/);
});

t('3f. fault: an undeclared share', async () => {
  const current = await caged();
  current.lab.faults.addUndeclaredShare({ name: 'secrets', mode: 'rw' });
  const run = await runVerify(current, WITHOUT_SWEEP);
  assertNamed(run, /"secrets" is shared into the VM but the policy does not declare it/);
});

t('3g. fault: a bridge process killed', async () => {
  const current = await caged();
  await killLabBridges(current, 18123);
  const run = await runVerify(current, WITHOUT_SWEEP);
  assertNamed(run, /bridge "ha" is down: nothing listens on port 18123/);
  assertNamed(run, /bridge "ha" at 192\.168\.64\.1:18123 is not reachable from the VM/);
});

t('3d. fault: DNS to the gateway let through, with a resolver answering there', async () => {
  const current = await caged();
  await current.lab.startDns('host', current.lab.gateway, { 'web.lab.test': PLAN.wan.web }, { name: 'gateway-dns' });
  await nft(current, 'input udp dport 53 accept');
  // A longer wait than the lab's 400 ms: the lab's DNS server is a Node process, and with the lab
  // suites side by side on two cores its answer took longer than 400 ms in two full runs, so the
  // hole went unseen.
  const run = await runVerify(current, [...WITHOUT_SWEEP, '--timeout', '1500']);
  assertNamed(run, /DNS server 192\.168\.64\.1 answers the VM/);
});

if (available) t.run();
