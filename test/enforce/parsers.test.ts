// The pure pieces of enforce: reading pfctl, ifconfig and ip output, comparing a loaded anchor
// with the compiled one, reading an nft table back, quoting commands.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { printedAnchor } from '../helpers/pf-printed.ts';
import { compareAnchor } from '../../src/host/compare-anchor.ts';
import { formatCommand } from '../../src/host/command.ts';
import { interfaceFromIfconfig, interfaceFromIpJson } from '../../src/host/find-interface.ts';
import { isVmAddress } from '../../src/enforce/is-vm-address.ts';
import { tableProblem } from '../../src/enforce/nft-readback.ts';
import { anchorMissing, mainRulesetHasAppleAnchor, parseEnableToken, pfEnabled, tokenAlreadyReleased } from '../../src/enforce/parse-pf-output.ts';
import { join } from 'node:path';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { loadServices, parseServices } from '../../src/host/services-db.ts';
import { addressesInSubnet, nanopolicyAnchors } from '../../src/host/other-cages.ts';
import { compareVersions, softnetArgs } from '../../src/enforce/preflight-pf.ts';
import { planPf } from '../../src/enforce/plan-pf.ts';
import { artifactsFor } from '../../src/compiler/artifacts-from-emitters.ts';
import { createRunner, findOnPath } from '../../src/host/command-runner.ts';
import { compilePolicy } from '../../src/compiler/compile.ts';
import { gatewayInterface } from '../../src/verify/host/gateway-interface.ts';

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


// ---- macOS fidelity (issue 11) ----

const MAC_SERVICES = loadServices(join(import.meta.dirname, '..', 'fixtures', 'macos', 'services'));
const NAMED = `vm_net = "192.168.64.0/24"
gw = "192.168.64.1"
pass in quick inet proto tcp from $vm_net to $gw port { 8080 5000 18443 } flags S/SA keep state
pass in quick inet proto udp from $vm_net port 68 to $gw port 67 keep state
pass in quick inet proto tcp from $vm_net to $gw port 570 flags S/SA keep state
`;
const NAMED_PRINTED = `pass in quick inet proto tcp from 192.168.64.0/24 to 192.168.64.1 port = http-alt flags S/SA keep state
pass in quick inet proto tcp from 192.168.64.0/24 to 192.168.64.1 port = commplex-main flags S/SA keep state
pass in quick inet proto tcp from 192.168.64.0/24 to 192.168.64.1 port = np-test-beta flags S/SA keep state
pass in quick inet proto udp from 192.168.64.0/24 port = bootpc to 192.168.64.1 port = bootps keep state
pass in quick inet proto tcp from 192.168.64.0/24 to 192.168.64.1 port = meter flags S/SA keep state
`;

test('ports pf printed by their macOS names compare through the services file', () => {
  assert.equal(compareAnchor(NAMED, {}, NAMED_PRINTED, MAC_SERVICES), { same: true, missing: [], extra: [] });
  // A name standing for another port than compiled is caught: http (80) is not 8080.
  const wrong = NAMED_PRINTED.replace('port = http-alt', 'port = http');
  assert.equal(compareAnchor(NAMED, {}, wrong, MAC_SERVICES).extra, ['pass in quick proto tcp from 192.168.64.0/24 to 192.168.64.1 port 80']);
  // A name the file does not know fails (the safe direction), as does an empty database.
  assert.is(compareAnchor(NAMED, {}, NAMED_PRINTED.replace('http-alt', 'no-such-name'), MAC_SERVICES).same, false);
  assert.is(compareAnchor(NAMED, {}, NAMED_PRINTED, parseServices('')).same, false);
  // A name is looked up for the rule's protocol: udp 8080 is not tcp 8080's entry.
  assert.is(MAC_SERVICES.nameOf(5900, 'tcp'), 'rfb');
  assert.is(MAC_SERVICES.portOf('vnc-server', 'tcp'), 5900);
  assert.is(MAC_SERVICES.portPrintedAs('meter', 'tcp'), undefined, 'meter is printed for 570 and 571');
});

test('parseServices: first line wins, comments and junk ignored (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ name: fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/), port: fc.integer({ min: 1, max: 65535 }), proto: fc.constantFrom('tcp', 'udp') }), { maxLength: 40 }),
      fc.array(fc.string({ maxLength: 30 }), { maxLength: 5 }),
      (entries, junk) => {
        const text = [...junk.map((j) => `# ${j.replace(/\n/g, ' ')}`), ...entries.map((e) => `${e.name}\t${e.port}/${e.proto}\t# x`)].join('\n');
        const db = parseServices(text);
        for (const e of entries) {
          const first = entries.find((x) => x.port === e.port && x.proto === e.proto)!;
          assert.is(db.nameOf(e.port, e.proto as 'tcp'), first.name);
          // Whatever pf prints for a port maps back to the same comparable key.
          const printed = `pass in quick proto ${e.proto} from any to any port = ${db.nameOf(e.port, e.proto as 'tcp')}\n`;
          assert.ok(compareAnchor(`pass in quick proto ${e.proto} from any to any port ${e.port}\n`, {}, printed, db).same, text);
        }
      },
    ),
    { seed: 11, numRuns: 200, interruptAfterTimeLimit: 5000 },
  );
});

test('pfctl -X: "pf not enabled" and "pf: token invalid" mean the reference is already gone', () => {
  // Real stderr texts (xnu DIOCSTOPREF ENOENT / EINVAL, as pfctl prints them), exit 1.
  assert.ok(tokenAlreadyReleased('pfctl: pf not enabled\n'));
  assert.ok(tokenAlreadyReleased('pfctl: pf: token invalid\n'));
  assert.not.ok(tokenAlreadyReleased('sudo: a password is required\n'));
  assert.not.ok(tokenAlreadyReleased(''));
  assert.ok(anchorMissing('pfctl: DIOCGETRULES: Invalid argument\n'));
  assert.not.ok(anchorMissing('pfctl: DIOCGETRULES: Operation not permitted\n'));
});

test('other cages: anchors listed under com.apple/, and the addresses a printed anchor shares with a subnet', () => {
  const listing = '  com.apple/200.AirDrop\n  com.apple/250.ApplicationFirewall\n  com.apple/100.nanopolicy.a-vm\n  com.apple/100.nanopolicy.b-vm\n  com.apple/100.nanopolicy.bad name\n';
  assert.equal(nanopolicyAnchors(listing), ['com.apple/100.nanopolicy.a-vm', 'com.apple/100.nanopolicy.b-vm']);
  const printed = 'pass out quick inet from 192.168.64.1 to 192.168.64.0/24 flags S/SA keep state\nblock return in log quick inet from 192.168.64.0/24 to any\npass in quick inet proto udp from 0.0.0.0 port = bootpc to 255.255.255.255 port = bootps keep state\n';
  assert.equal(addressesInSubnet(printed, '192.168.64.0/24'), ['192.168.64.1', '192.168.64.0/24']);
  assert.equal(addressesInSubnet(printed, '192.168.64.128/25'), ['192.168.64.0/24'], 'a wider prefix overlaps too');
  assert.equal(addressesInSubnet(printed, '10.0.0.0/8'), []);
});

test('softnet probe arguments and version comparison', () => {
  assert.equal(softnetArgs(['run', '--net-softnet-block=0.0.0.0/0', '--net-softnet-allow=192.168.64.1/32', 'vm']), ['--vm-fd', '0', '--vm-mac-address', '02:00:00:00:00:01', '--allow', '192.168.64.1/32', '--block', '0.0.0.0/0']);
  assert.ok(compareVersions('2.30.0', '2.30.0') === 0 && compareVersions('2.29.9', '2.30.0') < 0 && compareVersions('10.0.0', '2.30.0') > 0);
});

test("tart ip's timeout is its --wait plus a margin; the runner enforces a command's own timeout", async () => {
  const source = 'vm t-vm\nallow alpha 198.51.100.10:443 via 18080\n';
  const policy = compilePolicy({ file: 't.policy', source, home: '/Users/o', cwd: '/Users/o' }).policy!;
  const steps = planPf({ policy, artifacts: artifactsFor(policy), start: true, waitSeconds: 120 });
  const ctx = { state: { tokens: [], bridges: [] } } as unknown as Parameters<(typeof steps)[number]['commands']>[0];
  const ip = steps.find((s) => s.id === 'vm-address')!.commands(ctx)[0]!;
  assert.is(ip.args.join(' '), 'ip --wait 120 t-vm');
  assert.ok((ip.timeoutMs ?? 0) > 120_000, `tart ip timeout ${ip.timeoutMs}`);
  const runner = createRunner(process.env);
  const t0 = Date.now();
  const r = await runner.run({ file: 'sleep', args: ['5'], timeoutMs: 300 });
  assert.not.equal(r.exitCode, 0);
  assert.ok(Date.now() - t0 < 3000, 'killed at its own timeout');
});

test("the runner's which finds a program as `command -v` does, in this process: first executable file on PATH", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-which-'));
  try {
    const [a, b, c] = ['a', 'b', 'c'].map((d) => join(dir, d));
    for (const d of [a!, b!, c!]) mkdirSync(d);
    writeFileSync(join(a!, 'tool'), 'not executable\n', { mode: 0o644 });
    mkdirSync(join(b!, 'tool')); // a directory of that name is no program
    writeFileSync(join(c!, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(b!, 'other'), '#!/bin/sh\n', { mode: 0o755 });
    const path = `${a}::${b}:${c}`;
    assert.is(findOnPath('tool', path), join(c!, 'tool'));
    assert.is(findOnPath('other', path), join(b!, 'other'), 'the first directory that has it');
    assert.is(findOnPath('missing', path), undefined);
    assert.is(findOnPath('c/tool', dir), undefined, 'a name, not a path');
    assert.is(findOnPath('', path), undefined);
    assert.is(findOnPath('tool', undefined), undefined);
    chmodSync(join(a!, 'tool'), 0o755);
    assert.is(await createRunner({ PATH: path }).which('tool'), join(a!, 'tool'), "the runner's own PATH, not this process's");
    const sh = execFileSync('/bin/sh', ['-c', 'command -v tool'], { env: { PATH: path }, encoding: 'utf8' }).trim();
    assert.is(findOnPath('tool', path), sh, 'what the shell finds');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('verify finds the gateway interface with ifconfig first on macOS, not a Homebrew ip', async () => {
  const ifconfig = 'bridge101: flags=8863<UP,BROADCAST,SMART,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n\tinet 192.168.64.1 netmask 0xffffff00 broadcast 192.168.64.255\n';
  const bogusIp = JSON.stringify([{ ifname: 'bridge100', addr_info: [{ family: 'inet', local: '192.168.64.1' }] }]);
  const run = async (argv: readonly string[]) => ({ exitCode: 0, stdout: argv[0] === 'ip' ? bogusIp : ifconfig, stderr: '' });
  assert.is(await gatewayInterface('192.168.64.1', run, { prefer: 'ifconfig' }), 'bridge101');
  assert.is(await gatewayInterface('192.168.64.1', run), 'bridge100', 'Linux (nft) still asks ip first');
});

test.run();
