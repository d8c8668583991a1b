// Counting what the firewall refused (src/proxy/firewall-refusals.ts): one record per destination
// and window with the count and the first and last time; a flood to many destinations bounded.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_KEYS, RefusalTally } from '../../src/proxy/firewall-refusals.ts';

test('fifty packets to one address and port are one record: "tried … directly 50×", first and last time', () => {
  const t = new RefusalTally();
  for (let i = 0; i < 50; i++) t.add({ src: '192.168.64.2', dst: '162.159.135.232', port: 443, proto: 'tcp' }, 1_000_000 + i * 500);
  t.add({ src: '192.168.64.2', dst: '203.0.113.53', port: 53, proto: 'udp' }, 1_000_100);
  const records = t.flush();
  assert.is(records.length, 2);
  const [tcp, udp] = records;
  assert.match(tcp!.reason, /^tried 162\.159\.135\.232:443 \(tcp\) directly 50×/);
  assert.equal([tcp!.door, tcp!.decision, tcp!.name, tcp!.port, tcp!.protocol, tcp!.count, tcp!.event], ['firewall', 'refused', '162.159.135.232', 443, 'tcp', 50, 'summary']);
  assert.is(tcp!.time, new Date(1_000_000).toISOString());
  assert.is(tcp!.until, new Date(1_000_000 + 49 * 500).toISOString());
  assert.match(udp!.reason, /203\.0\.113\.53:53 \(udp\) directly 1×/);
  assert.equal(t.flush(), [], 'a window is counted once');
});

test('a flood to thousands of destinations is at most MAX_KEYS records plus one for the rest', () => {
  const t = new RefusalTally();
  for (let i = 0; i < 5000; i++) t.add({ src: '192.168.64.2', dst: '203.0.113.10', port: 1 + i, proto: 'tcp' }, 1000 + i);
  const records = t.flush();
  assert.is(records.length, MAX_KEYS + 1);
  assert.is(records.at(-1)!.count, 5000 - MAX_KEYS);
  assert.match(records.at(-1)!.reason, /more refused packet/);
  assert.is(records.reduce((n, r) => n + r.count!, 0), 5000);
});

test('IPv6 destinations are written in brackets', () => {
  const t = new RefusalTally();
  t.add({ src: '2001:db8:64::2', dst: '2001:db8:113::10', port: 443, proto: 'tcp' }, 0);
  assert.match(t.flush()[0]!.reason, /^tried \[2001:db8:113::10\]:443 \(tcp\)/);
});

test.run();
