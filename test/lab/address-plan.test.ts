// The lab's address guard and its topology scripts (pure: no root needed).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PLAN, assertLabAddress, assertLabPrefix, isLabAddress } from './address-plan.ts';
import { ROLES, planTopology } from './topology.ts';

test('lab addresses: TEST-NETs, benchmarking, the VM side and 2001:db8::/32 only', () => {
  for (const a of ['192.0.2.1', '198.51.100.10', '203.0.113.53', '198.18.0.1', '198.19.255.254', '192.168.64.2', '2001:db8::1', '2001:db8:113::10']) {
    assert.ok(isLabAddress(a), a);
  }
  for (const a of ['1.1.1.1', '8.8.8.8', '10.0.30.5', '127.0.0.1', '0.0.0.0', '192.168.1.1', '192.168.65.1', '198.20.0.1', '203.0.114.1', '2001:db9::1', '::1', 'fe80::1', 'localhost', 'vault.lab.test', '']) {
    assert.not.ok(isLabAddress(a), a);
  }
  assert.throws(() => assertLabAddress('1.1.1.1'), /outside the lab ranges/);
  assert.is(assertLabAddress('203.0.113.10'), '203.0.113.10');
});

test('lab prefixes must lie wholly inside one range', () => {
  assert.is(assertLabPrefix('192.168.64.0/24'), '192.168.64.0/24');
  assert.is(assertLabPrefix('2001:db8:64::/64'), '2001:db8:64::/64');
  for (const bad of ['192.168.0.0/16', '198.18.0.0/14', '0.0.0.0/0', '2001:db8::/31', '10.0.0.0/8', '192.0.2.0/33', '192.0.2.0']) {
    assert.throws(() => assertLabPrefix(bad), /not wholly inside/, bad);
  }
});

test('topology: nothing is created in the root namespace but namespaces and veths placed in them', () => {
  const topo = planTopology('npabc12', { vmAddress: '192.168.64.2', lanAddresses: [], wanAddresses: [], vmBridge: false });
  for (const line of topo.rootBatch.trim().split('\n')) {
    assert.ok(/^netns add npabc12-\w+$/.test(line) || /^link add \S+ netns npabc12-host type veth peer name \S+ netns npabc12-(vm|lan|wan)$/.test(line), line);
  }
  for (const name of [...Object.values(topo.ns), ...Object.values(topo.links)]) assert.ok(name.length <= 15, name);
});

test('topology: every address and gateway in the scripts is a lab address; wan has no default route', () => {
  const topo = planTopology('npabc12', { vmAddress: '192.168.64.7', lanAddresses: ['192.0.2.5'], wanAddresses: ['198.18.0.10'], vmBridge: true });
  const text = ROLES.map((r) => topo.addressBatch[r] + topo.routeBatch[r]).join('');
  const literals = text.split(/\s+/).filter((w) => /^[0-9a-f:.]+(\/\d+)?$/i.test(w) && /[.:]/.test(w));
  assert.ok(literals.length > 20);
  for (const lit of literals) {
    if (lit === '::/0') continue;
    if (lit.includes('/')) assertLabPrefix(lit);
    else assert.ok(isLabAddress(lit), lit);
  }
  assert.not.match(topo.routeBatch.wan, /default|::\/0/);
  assert.match(topo.routeBatch.vm, new RegExp(`route add default via ${PLAN.vmSide.gateway.replace(/\./g, '\\.')}`));
  assert.match(topo.addressBatch.vm, /addr add 192\.168\.64\.7\/24/);
  assert.match(topo.routeBatch.host, /route add 192\.0\.2\.5\/32 via 198\.51\.100\.10/);
  assert.is(topo.vmInterface, 'npabc12-br');
});

test('topology: refuses a VM address outside the VM subnet or on the gateway', () => {
  assert.throws(() => planTopology('npabc12', { vmAddress: '10.0.0.2', lanAddresses: [], wanAddresses: [], vmBridge: false }), /outside/);
  assert.throws(() => planTopology('npabc12', { vmAddress: '192.168.64.1', lanAddresses: [], wanAddresses: [], vmBridge: false }), /not the gateway/);
  assert.throws(() => planTopology('npabc12', { vmAddress: '192.168.64.2', lanAddresses: ['8.8.8.8'], wanAddresses: [], vmBridge: false }), /outside/);
});

test.run();
