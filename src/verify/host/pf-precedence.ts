// What pf evaluates before our anchor. Our rules are all `quick`, so only a `quick` pass rule met
// earlier can let the VM's traffic around them: one in the main ruleset above `anchor "com.apple/*"`,
// in an anchor the main ruleset calls before it, or in a sibling under com.apple/ whose name sorts
// before ours. And `set skip on <interface>` makes pf ignore the VM's interface altogether.
// pfctl output only; what cannot be read is said, never assumed harmless.

import { BlockList } from 'node:net';
import type { Policy } from '../../compiler/policy.ts';
import { anchorName } from '../../compiler/policy.ts';
import type { EnforceArtifacts } from '../../compiler/enforce-artifacts.ts';
import { PFCTL } from '../../compiler/emit/pfctl-commands.ts';
import type { ProbeResult } from '../inside/result.ts';
import type { RunCommand } from '../../host/run-command.ts';
import { gatewayInterface } from './gateway-interface.ts';
import { hostRow } from './host-result.ts';

// Whether `pfctl -s Interfaces -v` marks the interface `(skip)` (pfctl print_iface).
export function skippedInterface(text: string, vmIf: string): boolean {
  return text.split('\n').some((l) => l.trim().split(/\s+/)[0] === vmIf && /\(skip\)/.test(l));
}

// A printed rule that could let traffic from the VM pass before ours: `pass` and `quick`, inbound
// or either way, on no interface or the VM's, for IPv4, from an address that may be the VM's.
export function passesVmTraffic(rule: string, subnet: string, vmIf: string | undefined): boolean {
  const words = rule.trim().split(/\s+/);
  if (words[0] !== 'pass' || !words.includes('quick') || words.includes('out')) return false;
  const on = words.indexOf('on');
  if (on >= 0 && words[on + 1] !== vmIf && vmIf !== undefined) return false;
  if (words.includes('inet6')) return false;
  if (words.includes('all')) return true;
  const from = words.indexOf('from');
  const source = from >= 0 ? words[from + 1] ?? 'any' : 'any';
  if (source === 'any') return true;
  const cidr = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?$/.exec(source);
  // A table, a list, a negation, an interface name: cannot tell here, so it may match.
  if (!cidr) return true;
  const [net, bits] = subnet.split('/') as [string, string];
  const vm = new BlockList();
  vm.addSubnet(net, Number(bits));
  const other = new BlockList();
  other.addSubnet(cidr[1]!, Number(cidr[2] ?? 32));
  return vm.check(cidr[1]!) || other.check(net);
}

// The main ruleset's rules and anchor calls that come before `anchor "com.apple/*"`.
export function beforeAppleAnchor(mainRules: string): { rules: string[]; anchors: string[] } {
  const rules: string[] = [];
  const anchors: string[] = [];
  for (const raw of mainRules.split('\n')) {
    const line = raw.trim();
    if (/^anchor "com\.apple\/\*"/.test(line)) break;
    const a = /^anchor "([^"]+)"/.exec(line);
    if (a) anchors.push(a[1]!);
    else if (/^(pass|block)\b/.test(line)) rules.push(line);
  }
  return { rules, anchors };
}

// Rows: no `set skip` on the VM's interface; no quick pass for the VM's traffic before our anchor.
export async function checkPfPrecedence(policy: Policy, artifacts: EnforceArtifacts, run: RunCommand, asRoot = false): Promise<ProbeResult[]> {
  const t0 = performance.now();
  const pfctl = (args: readonly string[]) => run(asRoot ? [PFCTL, ...args] : ['sudo', '-n', PFCTL, ...args]);
  const ours = anchorName(policy);
  const subnet = policy.network.subnet;
  const vmIf = await gatewayInterface(policy.network.gateway, run);
  const rows: ProbeResult[] = [];

  const ifaces = await pfctl(artifacts.pfctl.showInterfaces);
  const skipped = ifaces.exitCode === 0 && vmIf !== undefined && skippedInterface(ifaces.stdout, vmIf);
  rows.push(hostRow(`pf set skip on ${vmIf ?? 'the VM interface'}`, 'not skipped', ifaces.exitCode !== 0 ? 'UNKNOWN' : skipped ? 'SKIPPED' : 'not skipped', ifaces.exitCode === 0 && !skipped, performance.now() - t0,
    ifaces.exitCode !== 0
      ? `pfctl -s Interfaces -v could not be read (${ifaces.stderr.trim() || ifaces.exitCode}): check the sudoers lines are installed, or run verify as root`
      : `pf has "set skip on ${vmIf}": it ignores the VM's interface, so no rule (ours included) filters the VM`));

  const main = await pfctl(['-sr']);
  const before = beforeAppleAnchor(main.stdout);
  const found: string[] = before.rules.filter((r) => passesVmTraffic(r, subnet, vmIf)).map((r) => `main ruleset: "${r}"`);
  const unread: string[] = [];
  const siblings = await pfctl(['-a', 'com.apple', '-s', 'Anchors']);
  const earlier = siblings.stdout.split('\n').map((l) => l.trim()).filter((a) => a.startsWith('com.apple/') && a !== ours && a < ours);
  if (siblings.exitCode !== 0) unread.push('the anchors under com.apple');
  for (const anchor of [...before.anchors, ...earlier]) {
    const r = await pfctl(['-a', anchor, '-sr']);
    if (r.exitCode !== 0) unread.push(`anchor "${anchor}"`);
    for (const rule of r.stdout.split('\n').map((l) => l.trim()).filter((l) => passesVmTraffic(l, subnet, vmIf))) found.push(`anchor "${anchor}": "${rule}"`);
  }
  const ok = found.length === 0 && unread.length === 0 && main.exitCode === 0;
  rows.push(hostRow('pf rules evaluated before our anchor', 'none pass the VM', found.length ? `${found.length} PASS THE VM` : ok ? 'none pass the VM' : 'UNKNOWN', ok, performance.now() - t0,
    found.length
      ? `pf evaluates quick pass rules that match the VM's traffic before our anchor, so ours never see it: ${found.join('; ')}`
      : `could not read ${main.exitCode !== 0 ? 'the main ruleset' : unread.join(', ')}: run verify as root to check what pf evaluates before our anchor`));
  return rows;
}
