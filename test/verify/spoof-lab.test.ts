// Issue 8, item 1, end to end: a VM that sends from an address outside its subnet. softnet passes
// DHCP-shaped UDP before it checks the source address, so on a Mac such packets reach the host's
// stack; in the lab the VM simply adds a second address. The caged host must refuse them all (UDP to
// a host listener, a SYN to the host, forwarding), while the normal paths (a bridge, DHCP) still work.

import * as assert from 'uvu/assert';
import { PLAN, assertLabAddress, requireLab } from '../lab/index.ts';
import { cage, createVerifyLab, labSuite, type CagedLab } from './lab-setup.ts';

const available = requireLab('spoofed-source end-to-end tests');
const { t, track } = labSuite('verify: spoofed sources in the lab');
/** A second address the VM gives itself: outside 192.168.64.0/24, inside a never-routed range. */
const SPOOF = '198.18.0.99';

// Sends from the VM: UDP (optionally broadcast, from a given source port) or a TCP connect, bound to `from`.
async function send(lab: CagedLab['lab'], kind: 'udp' | 'tcp', from: string, to: string, port: number, opts: { sport?: number; broadcast?: boolean } = {}): Promise<string> {
  for (const a of [from, to]) if (a !== '255.255.255.255') assertLabAddress(a);
  const script = kind === 'udp'
    ? `const s = require('dgram').createSocket('udp4');
       s.bind({ address: ${JSON.stringify(opts.broadcast ? '0.0.0.0' : from)}, port: ${opts.sport ?? 0} }, () => {
         if (${!!opts.broadcast}) s.setBroadcast(true);
         s.send('np', ${port}, ${JSON.stringify(to)}, (e) => { console.log(e ? e.code : 'sent'); setTimeout(() => process.exit(0), 300); });
       });
       s.on('error', (e) => { console.log(e.code); process.exit(0); });`
    : `const s = require('net').connect({ host: ${JSON.stringify(to)}, port: ${port}, localAddress: ${JSON.stringify(from)} });
       s.setTimeout(800, () => { console.log('timeout'); process.exit(0); });
       s.on('connect', () => { console.log('connected'); process.exit(0); });
       s.on('error', (e) => { console.log(e.code); process.exit(0); });`;
  const r = await lab.exec('vm', ['node', '-e', script], { timeoutMs: 5000 });
  return r.stdout.trim();
}

// The lab VM takes a second address; host and wan get a route back to it, so without a rule
// against it a UDP datagram would arrive and a TCP handshake would complete.
async function spoofingVm(): Promise<CagedLab> {
  const made = track(await createVerifyLab());
  await made.lab.startUdpService('host', made.lab.gateway, 5353, { name: 'host-udp' });
  await made.lab.startUdpService('host', '0.0.0.0', 67, { name: 'host-dhcp' });
  await made.lab.run('vm', `ip addr add ${SPOOF}/32 dev ${made.lab.id}-eth0`);
  await made.lab.run('host', `ip route add ${SPOOF}/32 dev ${made.lab.vmInterface}`);
  await made.lab.run('wan', `ip route add ${SPOOF}/32 via ${PLAN.wan.host}`);
  return made;
}

t('uncaged, the lab reproduces the hole: a spoofed datagram reaches the host listener', async () => {
  const lab = (await spoofingVm()).lab;
  assert.is(await send(lab, 'udp', SPOOF, lab.gateway, 5353), 'sent');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(lab.hits('host-udp').map((h) => h.from), [SPOOF]);
});

t('caged: from a second address the VM gets no UDP to the host, no SYN past input, no forwarding', async () => {
  const made = await spoofingVm();
  await cage(made);
  const { lab } = made;
  await send(lab, 'udp', SPOOF, lab.gateway, 5353);
  await send(lab, 'udp', SPOOF, lab.gateway, 5353, { sport: 68 });
  assert.not.equal(await send(lab, 'tcp', SPOOF, lab.gateway, 22), 'connected');
  assert.not.equal(await send(lab, 'tcp', SPOOF, lab.gateway, 18123), 'connected', 'a bridge port from a spoofed source');
  assert.not.equal(await send(lab, 'tcp', SPOOF, PLAN.wan.web, 443), 'connected');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(lab.hits('host-udp'), [], 'spoofed UDP reached the host');
  assert.equal(lab.connections('host-ssh'), [], 'a spoofed SYN reached the host SSH');
  assert.equal(lab.connections('web'), [], 'spoofed traffic was forwarded');
  // The catch-all counted them.
  const table = await lab.exec('host', ['nft', 'list', 'chain', ...made.table.split(' '), 'input']);
  const counted = [...table.stdout.matchAll(/iifname "[^"]+" (?:meta l4proto tcp )?counter packets (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  assert.ok(counted >= 4, `the catch-all counted ${counted} packets:\n${table.stdout}`);
  // And it is the catch-all that closes it: without its two input rules the datagram arrives again.
  const listed = await lab.exec('host', ['nft', '-a', 'list', 'chain', ...made.table.split(' '), 'input']);
  for (const m of listed.stdout.matchAll(/^\s*iifname "[^"]+" (?:meta l4proto tcp )?counter .* # handle (\d+)$/gm)) {
    await lab.exec('host', ['nft', 'delete', 'rule', ...made.table.split(' '), 'input', 'handle', m[1]!]);
  }
  await send(lab, 'udp', SPOOF, lab.gateway, 5353);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(lab.hits('host-udp').map((h) => h.from), [SPOOF], 'without the catch-all the spoofed datagram should arrive');
});

t('caged: the normal paths still work — a bridge from the VM address, DHCP to broadcast and to the gateway', async () => {
  const made = await spoofingVm();
  await cage(made);
  const { lab } = made;
  assert.is(await send(lab, 'tcp', lab.vmAddress, lab.gateway, 18123), 'connected');
  assert.is(await send(lab, 'udp', lab.vmAddress, '255.255.255.255', 67, { sport: 68, broadcast: true }), 'sent');
  assert.is(await send(lab, 'udp', lab.vmAddress, lab.gateway, 67, { sport: 68 }), 'sent');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(lab.hits('host-dhcp').map((h) => `${h.from}:${h.fromPort}`), [`${lab.vmAddress}:68`, `${lab.vmAddress}:68`]);
  assert.equal(lab.hits('host-udp'), []);
});

if (available) t.run();
