// macOS backend: pf enabled, the main ruleset still evaluating `com.apple/*`, and our anchor loaded
// with exactly the compiled rules (for the interface that holds the gateway address now).
// pfctl runs as enforce runs it — `sudo -n /sbin/pfctl` with the compiled sudoers lines — unless
// verify already runs as root.

import type { Policy } from '../../compiler/policy.ts';
import { anchorName } from '../../compiler/policy.ts';
import { emitAnchor } from '../../compiler/emit/anchor-pf.ts';
import { PF_VM_IF, PFCTL, pfctlCommands } from '../../compiler/emit/pfctl-commands.ts';
import { compareAnchor } from '../../enforce/compare-anchor.ts';
import type { ProbeResult } from '../inside/result.ts';
import type { RunCommand } from './run-command.ts';
import { gatewayInterface } from './gateway-interface.ts';
import { hostRow } from './host-result.ts';

export interface PfCheckOptions {
  /** Run pfctl directly (verify runs as root) instead of through `sudo -n`. */
  asRoot?: boolean;
}

// Rows: pf enabled; anchor hook present; anchor loaded as compiled.
export async function checkPf(policy: Policy, run: RunCommand, options: PfCheckOptions = {}): Promise<ProbeResult[]> {
  const t0 = performance.now();
  const pf = pfctlCommands(policy);
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

  const live = await pfctl(pf.showAnchorRules);
  const vmIf = await gatewayInterface(policy.network.gateway, run);
  const defines: Record<string, string> = vmIf !== undefined && PF_VM_IF.test(vmIf) ? { vm_if: vmIf } : {};
  const comparison = compareAnchor(emitAnchor(policy), defines, live.stdout);
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
