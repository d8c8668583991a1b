// Bridge targets as enforce checks them (a hostile DNS answer must never aim a bridge at the host,
// its loopback or the VM network), the hosts-file resolver tests and labs use, and the netmask
// parsers. Property-based over every spelling an attacker could pick; seeded and bounded.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Bridge } from '../../src/compiler/policy.ts';
import { forbiddenTarget, hostsFileLookup, resolveTarget } from '../../src/enforce/resolve-target.ts';
import { netmaskMatches, prefixFromIfconfig, prefixFromIpJson } from '../../src/enforce/interface-prefix.ts';

const t = suite('bridge targets and netmasks');
const POLICY = { network: { mode: 'softnet', subnetAddress: '192.168.64.0', prefix: 24, subnet: '192.168.64.0/24', gateway: '192.168.64.1' } } as const;
const OWN = new Set(['203.0.113.10', '2001:db8:113::1']);
const RUNS = { seed: 8, numRuns: 300, interruptAfterTimeLimit: 5000 };
const octet = fc.integer({ min: 0, max: 255 });
const v4 = (a: number, b: number, c: number, d: number) => `${a}.${b}.${c}.${d}`;
const mappedHex = (a: number, b: number, c: number, d: number) => `::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;

const bridge = (host: string, kind: Bridge['target']['kind'] = 'dns'): Bridge =>
  ({ name: 'vault', target: { kind, host, port: 443 }, listen: 18443, tls: true, maxConnections: 32, span: { line: 1, column: 1, offset: 0, length: 1 } }) as unknown as Bridge;

t('every loopback, link-local, multicast, "this network" and VM-subnet address is refused, in any spelling', () => {
  fc.assert(
    fc.property(fc.constantFrom(127, 169, 224, 239, 0, 192), octet, octet, octet, (a, b, c, d) => {
      const [x, y] = a === 169 ? [169, 254] : a === 192 ? [192, 168] : [a, b];
      const c2 = a === 192 ? 64 : c;
      for (const text of [v4(x, y, c2, d), mappedHex(x, y, c2, d), `::ffff:${v4(x, y, c2, d)}`]) {
        assert.ok(forbiddenTarget(text, POLICY, OWN) !== undefined, text);
      }
    }),
    RUNS,
  );
});

t('the host\'s own addresses are refused; a LAN or internet address is allowed', () => {
  assert.is(forbiddenTarget('203.0.113.10', POLICY, OWN), "one of this host's own addresses");
  assert.is(forbiddenTarget('2001:0db8:0113::0001', POLICY, OWN), "one of this host's own addresses");
  for (const ok of ['198.51.100.10', '10.0.30.5', '2001:db8:100::10']) assert.is(forbiddenTarget(ok, POLICY, OWN), undefined, ok);
  for (const bad of ['::1', '::', 'fe80::1', 'ff02::1', '255.255.255.255', 'not-an-address']) assert.ok(forbiddenTarget(bad, POLICY, OWN), bad);
});

t('a name is refused if any of its answers is forbidden (rebinding servers mix them), naming bridge and address', async () => {
  const lookup = async () => ['198.51.100.10', '127.0.0.1'];
  const r = await resolveTarget(bridge('vault.lab.test'), POLICY, lookup, OWN);
  assert.equal(r, { ok: false, message: 'The bridge "vault": its target "vault.lab.test" resolves to 127.0.0.1, which is loopback (127.0.0.0/8); the bridge would expose that to the VM.' });
  const gw = await resolveTarget(bridge('vault.lab.test'), POLICY, async () => ['192.168.64.1'], OWN);
  assert.match((gw as { message: string }).message, /resolves to 192\.168\.64\.1, which is inside the VM subnet 192\.168\.64\.0\/24/);
  const none = await resolveTarget(bridge('vault.lab.test'), POLICY, async () => { throw Object.assign(new Error('x'), { code: 'ENOTFOUND' }); }, OWN);
  assert.match((none as { message: string }).message, /"vault\.lab\.test" does not resolve \(ENOTFOUND\)/);
  const fine = await resolveTarget(bridge('vault.lab.test'), POLICY, async () => ['198.51.100.10', '198.51.100.11'], OWN);
  assert.equal(fine, { ok: true, address: '198.51.100.10' });
  const literal = await resolveTarget(bridge('203.0.113.10', 'ipv4'), POLICY, async () => { throw new Error('a literal is never looked up'); }, OWN);
  assert.match((literal as { message: string }).message, /its target 203\.0\.113\.10 is one of this host's own addresses/);
});

t('the hosts-file resolver reads every matching line, ignores comments and case, and fails unknown names', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-hosts-'));
  try {
    const file = join(dir, 'hosts');
    writeFileSync(file, '# comment vault.lab.test\n198.51.100.10 Vault.Lab.Test alias.lab.test\n\n2001:db8:100::10\tvault.lab.test # v6\n');
    const lookup = hostsFileLookup(file);
    assert.equal(await lookup('vault.lab.test'), ['198.51.100.10', '2001:db8:100::10']);
    assert.equal(await lookup('ALIAS.lab.test'), ['198.51.100.10']);
    try {
      await lookup('comment');
      assert.unreachable('unknown name resolved');
    } catch (error) {
      assert.is((error as NodeJS.ErrnoException).code, 'ENOTFOUND');
    }
    // Property: any junk in the file never throws anything but ENOTFOUND, and never invents an address.
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200 }), async (junk) => {
        writeFileSync(file, junk);
        try {
          const got = await lookup('vault.lab.test');
          assert.ok(got.every((a) => junk.includes(a)));
        } catch (error) {
          assert.is((error as NodeJS.ErrnoException).code, 'ENOTFOUND');
        }
      }),
      { ...RUNS, numRuns: 100 },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t('netmasks: ifconfig hex and dotted masks and ip -j prefixlen give the prefix; a mismatch is refused', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 32 }), (p) => {
      const mask = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
      const hex = `0x${mask.toString(16).padStart(8, '0')}`;
      const dotted = [24, 16, 8, 0].map((s) => (mask >>> s) & 255).join('.');
      for (const m of [hex, dotted]) {
        const out = `lo0: flags=8049<UP> mtu 16384\n\tinet 127.0.0.1 netmask 0xff000000\nbridge100: flags=8863<UP> mtu 1500\n\tinet 192.168.64.1 netmask ${m} broadcast 192.168.64.255\n`;
        assert.is(prefixFromIfconfig(out, '192.168.64.1'), p);
      }
      assert.is(prefixFromIpJson(JSON.stringify([{ ifname: 'br0', addr_info: [{ family: 'inet', local: '192.168.64.1', prefixlen: p }] }]), '192.168.64.1'), p);
    }),
    RUNS,
  );
  assert.is(prefixFromIfconfig('bridge100: flags=1\n\tinet 192.168.64.1 netmask 0xff00ff00\n', '192.168.64.1'), undefined, 'not contiguous');
  assert.is(prefixFromIpJson('not json', '192.168.64.1'), undefined);
  assert.not.throws(() => netmaskMatches('bridge100', 24, '192.168.64.0/24'));
  assert.throws(() => netmaskMatches('bridge100', 16, '192.168.64.0/24'), /"bridge100" has a \/16 netmask, but the policy's subnet is 192\.168\.64\.0\/24/);
  assert.throws(() => netmaskMatches('bridge100', undefined, '192.168.64.0/24'), /Could not read the netmask/);
});

t.run();
