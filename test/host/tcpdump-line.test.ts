// Reading tcpdump's log-interface lines (src/host/tcpdump-line.ts): nflog and pflog shapes as
// tcpdump prints them, other anchors and passes ignored, and hostile or odd lines never taken
// for a packet they do not show.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { parseTcpdumpLine } from '../../src/host/tcpdump-line.ts';

const ANCHOR = 'com.apple/100.nanopolicy.nanoclaw-vm';

test('nflog lines (tcpdump -n -l -q -i nflog:N): TCP, UDP, ICMP, IPv6', () => {
  assert.equal(parseTcpdumpLine('1796665833.137829 IP 192.168.64.2.52826 > 203.0.113.10.443: tcp 0'), { src: '192.168.64.2', dst: '203.0.113.10', port: 443, proto: 'tcp' });
  assert.equal(parseTcpdumpLine('17:50:24.401812 IP 192.168.64.2.34740 > 203.0.113.53.53: UDP, length 1'), { src: '192.168.64.2', dst: '203.0.113.53', port: 53, proto: 'udp' });
  assert.equal(parseTcpdumpLine('1796665833.137946 IP 192.168.64.2 > 203.0.113.10: ICMP echo request, id 22110, seq 1, length 64'), { src: '192.168.64.2', dst: '203.0.113.10', proto: 'icmp' });
  assert.equal(parseTcpdumpLine('1.0 IP6 2001:db8:64::2.40000 > 2001:db8:113::10.443: tcp 0'), { src: '2001:db8:64::2', dst: '2001:db8:113::10', port: 443, proto: 'tcp' });
});

test('pflog lines (tcpdump -n -e -l -q -i pflog0): only blocks in, by our anchor', () => {
  const line = (rule: string, action = 'block', dir = 'in') => `00:00:01.000000 rule 12.${rule}.3/0(match): ${action} ${dir} on bridge100: 192.168.64.2.50000 > 162.159.135.232.443: tcp 0`;
  assert.equal(parseTcpdumpLine(line(ANCHOR), { anchor: ANCHOR }), { src: '192.168.64.2', dst: '162.159.135.232', port: 443, proto: 'tcp' });
  assert.is(parseTcpdumpLine(line('com.apple/250.ApplicationFirewall'), { anchor: ANCHOR }), undefined);
  assert.is(parseTcpdumpLine(line(`${ANCHOR}x`), { anchor: ANCHOR }), undefined);
  assert.is(parseTcpdumpLine(line(ANCHOR, 'pass'), { anchor: ANCHOR }), undefined);
  assert.is(parseTcpdumpLine(line(ANCHOR, 'block', 'out'), { anchor: ANCHOR }), undefined);
  // Without -e there is no rule to check: nothing is taken.
  assert.is(parseTcpdumpLine('IP 192.168.64.2.1 > 203.0.113.1.443: tcp 0', { anchor: ANCHOR }), undefined);
});

test("tcpdump's own messages and malformed lines are not packets", () => {
  for (const l of ['listening on nflog:77, link-type NFLOG', 'tcpdump: verbose output suppressed', '', 'IP', 'IP a > b: tcp 0',
    'IP 192.168.64.2.99999 > 203.0.113.10.443: tcp 0', 'IP 192.168.64.2.1 > 203.0.113.10.70000: tcp 0', 'IP 192.168.64.2.1 > 999.0.113.10.443: tcp 0']) {
    assert.is(parseTcpdumpLine(l), undefined, l);
  }
});

test('property: any line yields nothing, or addresses that are real IPs and a port in range', () => {
  fc.assert(fc.property(fc.string({ maxLength: 200 }), fc.boolean(), (text, pf) => {
    const p = parseTcpdumpLine(text, pf ? { anchor: ANCHOR } : {});
    if (!p) return;
    assert.ok(/^[\d.]+$|:/.test(p.src) && /^[\d.]+$|:/.test(p.dst));
    if (p.port !== undefined) assert.ok(p.port >= 0 && p.port <= 65535);
  }), { numRuns: 2000 });
});

test.run();
