// The pure pieces of enforce: reading pfctl, ifconfig and ip output, comparing a loaded anchor
// with the compiled one, reading an nft table back, quoting commands.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { printedAnchor } from '../helpers/pf-printed.ts';
import { compareAnchor } from '../../src/enforce/compare-anchor.ts';
import { formatCommand } from '../../src/enforce/command.ts';
import { interfaceFromIfconfig, interfaceFromIpJson } from '../../src/enforce/find-interface.ts';
import { isVmAddress } from '../../src/enforce/is-vm-address.ts';
import { tableProblem } from '../../src/enforce/nft-readback.ts';
import { mainRulesetHasAppleAnchor, parseEnableToken, pfEnabled } from '../../src/enforce/parse-pf-output.ts';

const ANCHOR = `vm_net = "192.168.64.0/24"
gw = "192.168.64.1"
bridge_ports = "{ 18080 18443 }"
vm_if = "bridge100"
pass out quick inet from $gw to $vm_net keep state
pass in quick inet proto tcp from $vm_net to $gw port $bridge_ports flags S/SA keep state
pass in quick inet proto udp from { $vm_net, 0.0.0.0 } port 68 to { $gw, 255.255.255.255 } port 67 keep state
block return in log quick on $vm_if inet6 all
block return in log quick inet from $vm_net to any
block return in log quick on $vm_if all
`;

// How pf prints that anchor (expanded lists, service names, state options), with vm_if=bridge101.
const PRINTED = printedAnchor({ subnet: '192.168.64.0/24', gateway: '192.168.64.1', ports: [18080, 18443], vmIf: 'bridge101' });

test('the anchor as pf prints it matches the compiled one (with -D vm_if)', () => {
  assert.equal(compareAnchor(ANCHOR, { vm_if: 'bridge101' }, PRINTED), { same: true, missing: [], extra: [] });
});

test('a wrong interface, a lost rule, an extra port or a plain block are caught', () => {
  assert.is(compareAnchor(ANCHOR, { vm_if: 'bridge100' }, PRINTED).same, false);
  const lost = PRINTED.replace(/^block return in log quick inet from .*\n/m, '');
  assert.equal(compareAnchor(ANCHOR, { vm_if: 'bridge101' }, lost).missing, ['block return in log quick from 192.168.64.0/24 to any']);
  const extra = `${PRINTED}pass in quick inet proto tcp from 192.168.64.0/24 to 192.168.64.1 port = ssh flags S/SA keep state\n`;
  assert.equal(compareAnchor(ANCHOR, { vm_if: 'bridge101' }, extra).extra, ['pass in quick proto tcp from 192.168.64.0/24 to 192.168.64.1 port 22']);
  assert.is(compareAnchor(ANCHOR, { vm_if: 'bridge101' }, PRINTED.replace(/block return in log quick inet/, 'block in log quick inet')).same, false);
  assert.is(compareAnchor(ANCHOR, {}, '').same, false, 'an empty anchor never matches');
});

test('pfctl output: token, status, com.apple anchor', () => {
  assert.is(parseEnableToken('No ALTQ support in kernel\nALTQ related functions disabled\npf enabled\nToken : 14987316458812329523\n'), '14987316458812329523');
  assert.is(parseEnableToken('pf enabled\n'), undefined);
  assert.ok(pfEnabled('Status: Enabled for 0 days 00:12:01           Debug: Urgent\n'));
  assert.not.ok(pfEnabled('Status: Disabled                              Debug: Urgent\n'));
  assert.ok(mainRulesetHasAppleAnchor('scrub-anchor "com.apple/*" all fragment reassemble\nanchor "com.apple/*" all\n'));
  assert.not.ok(mainRulesetHasAppleAnchor('scrub-anchor "com.apple/*" all fragment reassemble\n'));
});

test('the interface is found by the gateway address, never by name', () => {
  const ifconfig = `lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384
\tinet 127.0.0.1 netmask 0xff000000
bridge100: flags=8863<UP,BROADCAST,SMART,RUNNING,SIMPLEX,MULTICAST> mtu 1500
\tinet 10.211.55.2 netmask 0xffffff00 broadcast 10.211.55.255
bridge101: flags=8863<UP,BROADCAST,SMART,RUNNING,SIMPLEX,MULTICAST> mtu 1500
\tether 16:7d:da:ab:cd:65
\tinet 192.168.64.1 netmask 0xffffff00 broadcast 192.168.64.255
`;
  assert.is(interfaceFromIfconfig(ifconfig, '192.168.64.1'), 'bridge101');
  assert.is(interfaceFromIfconfig(ifconfig, '192.168.65.1'), undefined);
  const ip = JSON.stringify([
    { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1' }] },
    { ifname: 'np1-vm', addr_info: [{ family: 'inet6', local: '2001:db8:64::1' }, { family: 'inet', local: '192.168.64.1' }] },
  ]);
  assert.is(interfaceFromIpJson(ip, '192.168.64.1'), 'np1-vm');
  assert.is(interfaceFromIpJson('not json', '192.168.64.1'), undefined);
});

test('the VM address must be a host of the subnet other than the gateway', () => {
  assert.ok(isVmAddress('192.168.64.5', '192.168.64.0/24', '192.168.64.1'));
  for (const bad of ['192.168.64.1', '192.168.64.0', '192.168.64.255', '192.168.65.5', '10.0.0.1', '192.168.64.5/32', '192.168.64.05x', '']) {
    assert.not.ok(isVmAddress(bad, '192.168.64.0/24', '192.168.64.1'), bad);
  }
});

test('nft readback: chains, hooks and rule counts', () => {
  const ruleset = `define vm_if = "x"\ntable inet t {}\ndelete table inet t\ntable inet t {\n\tchain input {\n\t\ttype filter hook input priority filter - 10; policy accept;\n\t\t# c\n\t\tip saddr 192.168.64.0/24 accept\n\t\tip saddr 192.168.64.0/24 reject\n\t}\n\tchain forward {\n\t\ttype filter hook forward priority 0; policy accept;\n\t\treject\n\t}\n}\n`;
  const chain = (name: string, hook: string) => ({ chain: { family: 'inet', table: 't', name, hook } });
  const rule = (c: string) => ({ rule: { family: 'inet', table: 't', chain: c } });
  const ok = JSON.stringify({ nftables: [chain('input', 'input'), chain('forward', 'forward'), rule('input'), rule('input'), rule('forward')] });
  assert.is(tableProblem(ruleset, 't', ok), undefined);
  const lost = JSON.stringify({ nftables: [chain('input', 'input'), chain('forward', 'forward'), rule('input'), rule('forward')] });
  assert.is(tableProblem(ruleset, 't', lost), 'chain "input" has 1 rules, not 2');
});

test('commands print as one pasteable shell line', () => {
  assert.is(formatCommand({ file: 'sudo', args: ['-n', '/sbin/pfctl', '-a', 'com.apple/100.nanopolicy.vm', '-f', '-'], input: 'x', inputName: 'anchor.pf' }), 'sudo -n /sbin/pfctl -a com.apple/100.nanopolicy.vm -f - < anchor.pf');
  assert.is(formatCommand({ file: 'tart', args: ['run', '--dir=a:/Users/o/My Files'] }), "tart run '--dir=a:/Users/o/My Files'");
  assert.is(formatCommand({ file: 'kill', args: ['<pid>'] }), 'kill <pid>');
});

test.run();
