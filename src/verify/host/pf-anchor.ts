// macOS backend: pf enabled, the main ruleset still evaluating `com.apple/*`, and our anchor loaded
// with exactly the compiled rules (for the interface that holds the gateway address now).
// pfctl runs as enforce runs it — `sudo -n /sbin/pfctl` with the compiled sudoers lines — unless
// verify already runs as root.

import type { Policy } from '../../compiler/policy.ts';
import { anchorName } from '../../compiler/policy.ts';
import type { EnforceArtifacts } from '../../compiler/enforce-artifacts.ts';
import { PF_VM_IF, PFCTL, type PfctlCommands } from '../../compiler/emit/pfctl-commands.ts';
import { compareAnchor } from '../../host/compare-anchor.ts';
import { addressesInSubnet, nanopolicyAnchors } from '../../host/other-cages.ts';
import { DEFAULT_SERVICES_FILE, loadServices } from '../../host/services-db.ts';
import type { ProbeResult } from '../inside/result.ts';
import type { RunCommand } from '../../host/run-command.ts';
import { gatewayInterface } from './gateway-interface.ts';
import { hostRow } from './host-result.ts';

export interface PfCheckOptions {
  /** Run pfctl directly (verify runs as root) instead of through `sudo -n`. */
  asRoot?: boolean;
  /** The services file pfctl prints port names from (default /etc/services). */
  servicesFile?: string;
}

// Rows: pf enabled; anchor hook present; no other nanopolicy cage on the subnet; anchor loaded as compiled.
export async function checkPf(policy: Policy, artifacts: EnforceArtifacts, run: RunCommand, options: PfCheckOptions = {}): Promise<ProbeResult[]> {
  const t0 = performance.now();
  const pf = artifacts.pfctl;
  const pfctl = (args: readonly string[]) => run(options.asRoot ? [PFCTL, ...args] : ['sudo', '-n', PFCTL, ...args]);
  const anchor = anchorName(policy);
  const rows: ProbeResult[] = [];

  const info = await pfctl(pf.info);
  if (info.exitCode !== 0) {
    const why = `pfctl could not be asked (${info.stderr.trim() || `exit ${info.exitCode}`}): install the compiled sudoers lines, or run verify as root`;
    return [hostRow('pf status', 'Enabled', 'UNKNOWN', false, performance.now() - t0, why)];
  }
  const enabled = /Status:\s*Enabled/.test(info.stdout);
  // Why: starting a vmnet VM makes macOS toggle pf; an anchor in a disabled pf loads fine and does nothing.
  rows.push(hostRow('pf status', 'Enabled', enabled ? 'Enabled' : 'DISABLED', enabled, performance.now() - t0, 'pf is disabled: the anchor is loaded but nothing is filtered'));

  const main = await pfctl(pf.showMainRules);
  const hooked = /^anchor "com\.apple\/\*"/m.test(main.stdout);
  rows.push(hostRow('pf main ruleset: anchor "com.apple/*"', 'present', hooked ? 'present' : 'MISSING', hooked, performance.now() - t0,
    'the main pf ruleset no longer evaluates anchor "com.apple/*": our anchor loads but is never consulted'));

  rows.push(await otherCagesRow(policy, pfctl, pf, anchor, t0));

  const live = await pfctl(pf.showAnchorRules);
  const vmIf = await gatewayInterface(policy.network.gateway, run, { prefer: 'ifconfig' });
  const defines: Record<string, string> = vmIf !== undefined && PF_VM_IF.test(vmIf) ? { vm_if: vmIf } : {};
  // pf printed named ports by their names in this host's services file (domain.md §9).
  const comparison = compareAnchor(artifacts.anchor, defines, live.stdout, loadServices(options.servicesFile ?? DEFAULT_SERVICES_FILE));
  const detail = [
    comparison.extra.length ? `extra ${comparison.extra.map((r) => `"${r}"`).join(', ')}` : '',
    comparison.missing.length ? `missing ${comparison.missing.map((r) => `"${r}"`).join(', ')}` : '',
  ].filter(Boolean).join('; ');
  rows.push(
    hostRow(`pf anchor ${anchor}`, 'loaded, as compiled', comparison.same ? 'loaded, as compiled' : live.stdout.trim() === '' ? 'EMPTY' : 'DIFFERS', comparison.same, performance.now() - t0,
      live.stdout.trim() === ''
        ? `the pf anchor "${anchor}" has no rules: nothing filters the VM`
        : `the live pf anchor "${anchor}" differs from the compiled one${vmIf ? ` (for ${vmIf})` : ''}: ${detail}`),
  );
  return rows;
}

// Another VM's nanopolicy anchor naming addresses in our subnet blocks one VM or the other (pf reads
// the com.apple/ anchors in turn, each ending with a block from the subnet): report it by name.
async function otherCagesRow(
  policy: Policy,
  pfctl: (args: readonly string[]) => ReturnType<RunCommand>,
  pf: PfctlCommands,
  anchor: string,
  t0: number,
): Promise<ProbeResult> {
  const probe = `pf: no other nanopolicy anchor on ${policy.network.subnet}`;
  const list = await pfctl(pf.listAppleAnchors);
  if (list.exitCode !== 0) {
    return hostRow(probe, 'none', 'UNKNOWN', false, performance.now() - t0, `could not list the anchors under com.apple/ (${list.stderr.trim() || `exit ${list.exitCode}`}): install the sudoers file compile writes now`);
  }
  const found: string[] = [];
  for (const other of nanopolicyAnchors(list.stdout).filter((a) => a !== anchor)) {
    const r = await pfctl(pf.showRulesOf(other));
    if (r.exitCode !== 0 && /DIOCGETRULES: Invalid argument/.test(r.stderr)) continue;
    const shared = r.exitCode === 0 ? addressesInSubnet(r.stdout, policy.network.subnet) : ['(unreadable)'];
    if (shared.length > 0) found.push(`"${other}" (${shared.join(', ')})`);
  }
  return hostRow(probe, 'none', found.length ? 'FOUND' : 'none', found.length === 0, performance.now() - t0,
    `another VM's nanopolicy anchor cages the same subnet: ${found.join('; ')}; its final block from the subnet stops this VM's bridges and DHCP (or ours its)`);
}
