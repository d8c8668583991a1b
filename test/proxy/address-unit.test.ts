// Which resolved addresses the proxy refuses, the CIDR arithmetic under it, and rule matching.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { cidrContains, parseCidr, parseIp, type Cidr } from '../../src/net/ip-address.ts';
import { whyRefused } from '../../src/net/refused-address.ts';
import { matchRule, nameMatches } from '../../src/formats/match-rule.ts';
import { resolveChecked } from '../../src/proxy/resolve-checked.ts';
import { liveHostAddresses } from '../../src/proxy/host-addresses.ts';

const FUZZ = { seed: 7, numRuns: 2000, interruptAfterTimeLimit: 3000 };

function refused(address: string, deny: Cidr[] = []): string | undefined {
  const ip = parseIp(address);
  if (!ip) throw new Error(`test address ${address} does not parse`);
  return whyRefused(ip, deny);
}

test('refused: loopback, private, link-local and metadata, CGNAT, multicast, reserved, in every IPv6 disguise', () => {
  const cases: Array<[string, RegExp]> = [
    ['127.0.0.1', /loopback/], ['127.255.255.254', /loopback/], ['0.0.0.0', /this network/], ['0.1.2.3', /this network/],
    ['10.0.0.1', /private/], ['172.16.0.1', /private/], ['172.31.255.255', /private/], ['192.168.64.1', /private/],
    ['169.254.169.254', /metadata/], ['169.254.0.1', /link-local/], ['100.64.0.1', /carrier-grade/], ['100.127.255.255', /carrier-grade/],
    ['224.0.0.1', /multicast/], ['239.255.255.250', /multicast/], ['240.0.0.1', /reserved/], ['255.255.255.255', /broadcast/],
    ['192.0.0.8', /IETF/],
    ['::', /unspecified/], ['::1', /loopback/], ['fe80::1', /link-local/], ['febf::1', /link-local/], ['fc00::1', /unique local/],
    ['fd12:3456::1', /unique local/], ['ff02::1', /multicast/], ['fec0::1', /site-local/], ['100::1', /discard/],
    ['::ffff:127.0.0.1', /IPv4-mapped.*loopback/], ['::ffff:7f00:1', /IPv4-mapped.*loopback/], ['::ffff:169.254.169.254', /mapped.*metadata/],
    ['::127.0.0.1', /IPv4-compatible.*loopback/], ['::10.0.0.1', /compatible.*private/],
    ['64:ff9b::192.168.1.1', /NAT64.*private/], ['64:ff9b::a9fe:a9fe', /NAT64.*metadata/], ['64:ff9b:1::1', /local-use NAT64/],
    ['2002:7f00:1::1', /6to4.*loopback/], ['2002:c0a8:101::', /6to4.*private/], ['2001::1', /Teredo/],
  ];
  for (const [address, reason] of cases) {
    const why = refused(address);
    assert.ok(why, `${address} must be refused`);
    assert.match(why!, reason, address);
  }
});

test('allowed: public addresses and the never-routed documentation ranges the lab uses', () => {
  for (const address of ['1.1.1.1', '8.8.8.8', '100.63.255.255', '100.128.0.0', '172.15.255.255', '172.32.0.0', '192.167.1.1',
    '192.0.2.5', '198.51.100.10', '203.0.113.10', '198.18.0.10', '198.19.255.255', '2001:db8::1', '2606:4700::1111',
    '::ffff:1.1.1.1', '64:ff9b::1.1.1.1', '2002:101:101::1']) {
    assert.is(refused(address), undefined, address);
  }
});

test('denyNetworks refuses its blocks in both families and through IPv4 embeddings', () => {
  const deny = [parseCidr('203.0.113.0/24'), parseCidr('2001:db8:64::/64')] as Cidr[];
  assert.match(refused('203.0.113.10', deny)!, /denied network \(203\.0\.113\.0\/24\)/);
  assert.match(refused('::ffff:203.0.113.10', deny)!, /mapped.*denied/);
  assert.match(refused('2001:db8:64::2', deny)!, /denied/);
  assert.is(refused('2001:db8:65::2', deny), undefined);
  assert.is(refused('198.51.100.10', deny), undefined);
});

test('CIDRs: parse strictly and contain exactly their range', () => {
  assert.is(typeof parseCidr('10.0.0.1/8'), 'string', 'host bits set');
  assert.is(typeof parseCidr('10.0.0.0/33'), 'string');
  assert.is(typeof parseCidr('10.0.0.0/08'), 'string');
  assert.is(typeof parseCidr('fe80::1%eth0/128'), 'string');
  assert.is(typeof parseCidr('example.test/24'), 'string');
  const c = parseCidr('192.168.64.2') as Cidr;
  assert.is(c.prefix, 32);
  fc.assert(fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), fc.ipV4(), (net, prefix, probe) => {
    const n = parseIp(net)!;
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    const num = (b: Uint8Array): number => ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    const network = (num(n.bytes) & mask) >>> 0;
    const text = [24, 16, 8, 0].map((s) => (network >>> s) & 255).join('.');
    const block = parseCidr(`${text}/${prefix}`) as Cidr;
    assert.is(cidrContains(block, parseIp(probe)!), ((num(parseIp(probe)!.bytes) & mask) >>> 0) === network);
  }), FUZZ);
});

test('IPv6 text in every legal form parses to the same bytes as its canonical form', () => {
  fc.assert(fc.property(fc.ipV6(), (text) => {
    const a = parseIp(text);
    const b = parseIp(new URL(`http://[${text}]/`).hostname.slice(1, -1));
    assert.ok(a && b, text);
    assert.equal([...a!.bytes], [...b!.bytes], text);
  }), FUZZ);
});

test('rules: exact names, wildcards strictly below on a label boundary, ports', () => {
  assert.ok(nameMatches('api.example.test', 'api.example.test'));
  assert.not.ok(nameMatches('api.example.test', 'x.api.example.test'));
  assert.ok(nameMatches('*.example.test', 'a.example.test'));
  assert.ok(nameMatches('*.example.test', 'a.b.example.test'));
  assert.not.ok(nameMatches('*.example.test', 'example.test'));
  assert.not.ok(nameMatches('*.example.test', 'badexample.test'));
  assert.not.ok(nameMatches('*.example.test', '.example.test'.slice(1)));
  const rules = [{ name: 'a', host: 'api.example.test', port: 443 }, { name: 'b', host: 'api.example.test', port: 8443 }];
  assert.equal(matchRule(rules, 'api.example.test', 8443), { ok: true, rule: rules[1] });
  assert.equal(matchRule(rules, 'api.example.test', 80), { ok: false, reason: 'port 80 not listed for this name (listed: 443, 8443)' });
  assert.equal(matchRule(rules, 'other.example.test', 443), { ok: false, reason: 'name not listed' });
});

test('resolve: every answer checked, the first one used, lookup errors and timeouts reported', async () => {
  const lookup = (answer: string[]) => async () => answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  assert.equal(await resolveChecked('a.test', lookup(['203.0.113.5', '2001:db8::5']), [], 1000), { ok: true, addresses: [{ address: '203.0.113.5', family: 4 }, { address: '2001:db8::5', family: 6 }] });
  const mixed = await resolveChecked('a.test', lookup(['203.0.113.5', '127.0.0.1']), [], 1000);
  assert.is(mixed.ok, false);
  assert.equal(await resolveChecked('a.test', lookup([]), [], 1000), { ok: false, reason: 'name resolved to no address' });
  const zoned = await resolveChecked('a.test', lookup(['fe80::1%eth0']), [], 1000);
  assert.is(zoned.ok, false);
  const hang = await resolveChecked('a.test', () => new Promise(() => {}), [], 50);
  assert.equal(hang, { ok: false, reason: 'name did not resolve (ETIMEOUT)' });
});

test('host addresses: read from the interfaces, zone ids dropped, re-read only after the cache time', () => {
  let clock = 0;
  let reads = 0;
  let list = [{ address: '203.0.113.1' }, { address: 'fe80::1%eth0' }, { address: '::1' }];
  const addresses = liveHostAddresses(() => clock, (() => { reads++; return { eth0: list }; }) as never);
  assert.equal(addresses().map((a) => [...a.bytes].length), [4, 16, 16]);
  assert.match(whyRefused(parseIp('203.0.113.1')!, [], addresses())!, /this host's own/);
  assert.match(whyRefused(parseIp('::ffff:203.0.113.1')!, [], addresses())!, /mapped.*this host's own/);
  list = [{ address: '198.51.100.9' }];
  clock += 1000;
  addresses();
  assert.is(reads, 1, 'cached');
  clock += 1500;
  assert.is(addresses().length, 1);
  assert.is(reads, 2);
});

test.run();
