// macOS backend: pf enabled, the main ruleset still evaluating `com.apple/*`, and our anchor loaded with
// as many rules as the compiled one parses to (pfctl -n prints it the way -sr prints the live one).

import type { VerifyManifest } from '../manifest.ts';
import type { ProbeResult } from '../inside/result.ts';
import type { RunCommand } from './run-command.ts';
import { hostRow } from './host-result.ts';

export interface PfCheckOptions {
  /** The compiled anchor.pf, if at hand; compared rule by rule after pfctl normalizes both. */
  anchorFile?: string;
  /** Defines enforce passed (`-D vm_if=bridge100`). */
  defines?: Record<string, string>;
}

// Rows: pf enabled; anchor hook present; anchor loaded (and equal to the compiled one when given).
export async function checkPf(manifest: VerifyManifest, run: RunCommand, options: PfCheckOptions = {}): Promise<ProbeResult[]> {
  const t0 = performance.now();
  const rows: ProbeResult[] = [];
  const info = await run(['pfctl', '-s', 'info']);
  const enabled = /Status:\s*Enabled/.test(info.stdout);
  // Why: starting a vmnet VM makes macOS toggle pf; an anchor in a disabled pf loads fine and does nothing.
  rows.push(hostRow('pf status', 'Enabled', enabled ? 'Enabled' : 'DISABLED', enabled, performance.now() - t0, 'pf is disabled: the anchor is loaded but nothing is filtered'));
  const main = await run(['pfctl', '-sr']);
  const hooked = /^anchor "com\.apple\/\*"/m.test(main.stdout);
  rows.push(hostRow('pf main ruleset: anchor "com.apple/*"', 'present', hooked ? 'present' : 'MISSING', hooked, performance.now() - t0,
    'the main pf ruleset no longer evaluates anchor "com.apple/*": our anchor loads but is never consulted'));
  const live = await run(['pfctl', '-a', manifest.anchor, '-sr']);
  const liveRules = ruleLines(live.stdout);
  if (liveRules.length === 0) {
    rows.push(hostRow(`pf anchor ${manifest.anchor}`, 'loaded', 'EMPTY', false, performance.now() - t0, `the pf anchor "${manifest.anchor}" has no rules: nothing filters the VM`));
    return rows;
  }
  if (options.anchorFile === undefined) {
    rows.push(hostRow(`pf anchor ${manifest.anchor}`, 'loaded', `${liveRules.length} rules`, true, performance.now() - t0));
    return rows;
  }
  const defines = Object.entries(options.defines ?? {}).flatMap(([k, v]) => ['-D', `${k}=${v}`]);
  const parsed = await run(['pfctl', '-a', manifest.anchor, '-nvf', options.anchorFile, ...defines]);
  const want = ruleLines(parsed.stdout);
  const same = want.length > 0 && want.join('\n') === liveRules.join('\n');
  const extra = liveRules.filter((r) => !want.includes(r));
  rows.push(hostRow(`pf anchor ${manifest.anchor}`, 'loaded, as compiled', same ? 'loaded, as compiled' : `DIFFERS (${liveRules.length} live, ${want.length} compiled rules)`, same, performance.now() - t0,
    `the live pf anchor "${manifest.anchor}" differs from the compiled one${extra.length ? `: extra ${extra.map((r) => `"${r}"`).join(', ')}` : ''}`));
  return rows;
}

function ruleLines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => /^(pass|block|match|anchor|nat|rdr)\b/.test(l));
}
