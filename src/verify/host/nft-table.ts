// Linux backend: the live table `inet nanopolicy_<vm>` must equal the compiled nft.conf, as nft itself
// prints both. The compiled file is loaded in a throwaway network namespace (`unshare --net`) so nft
// normalizes it exactly as it normalized the live one; only rule handles differ.

import type { Policy } from '../../compiler/policy.ts';
import type { EnforceArtifacts } from '../../compiler/enforce-artifacts.ts';
import { DEFAULT_VM_IF } from '../../compiler/emit/anchor-pf.ts';
import type { ProbeResult } from '../inside/result.ts';
import type { RunCommand } from '../../host/run-command.ts';
import { hostRow } from './host-result.ts';
import { gatewayInterface } from './gateway-interface.ts';

// One row: the table is loaded and equal to the compiled one, or what differs.
export async function checkNftTable(policy: Policy, artifacts: EnforceArtifacts, run: RunCommand): Promise<ProbeResult[]> {
  const started = performance.now();
  const table = `inet ${artifacts.nftTable}`;
  const probe = `nft table ${table}`;
  const live = await run(['nft', 'list', 'table', ...table.split(' ')]);
  if (live.exitCode !== 0) {
    return [hostRow(probe, 'loaded, as compiled', 'NOT LOADED', false, performance.now() - started, `the nft table ${table} is not loaded: nothing filters the VM (${firstLine(live.stderr)})`)];
  }
  const vmIf = await gatewayInterface(policy.network.gateway, run);
  const expectedText = artifacts.nftRuleset(vmIf || DEFAULT_VM_IF);
  const compiled = await run(['unshare', '--net', 'sh', '-c', `nft -f - && nft list table ${table}`], { input: expectedText });
  if (compiled.exitCode !== 0) {
    return [hostRow(probe, 'loaded, as compiled', 'cannot compare', false, performance.now() - started, `could not load the compiled nft.conf in a scratch namespace to compare: ${firstLine(compiled.stderr)}`)];
  }
  const { extra, missing } = diffRules(normalize(compiled.stdout), normalize(live.stdout));
  const ok = extra.length === 0 && missing.length === 0;
  const parts = [...extra.map((r) => `extra rule "${r}"`), ...missing.map((r) => `missing rule "${r}"`)];
  return [
    hostRow(
      probe,
      'loaded, as compiled',
      ok ? 'loaded, as compiled' : `DIFFERS (${extra.length} extra, ${missing.length} missing)`,
      ok,
      performance.now() - started,
      `the live nft table ${table} differs from the compiled one: ${parts.join('; ')}`,
    ),
  ];
}

// The table's text with handles, comments and indentation removed, each rule prefixed by its chain.
export function normalize(text: string): string[] {
  const out: string[] = [];
  let chain = '';
  for (const raw of text.split('\n')) {
    // Counter values change with traffic; that a rule counts is part of the comparison, not how much.
    const line = raw.replace(/\s+# handle \d+$/, '').replace(/\s+comment ".*"$/, '').replace(/\bcounter packets \d+ bytes \d+/, 'counter').trim();
    const c = /^chain (\S+) \{$/.exec(line);
    if (c) chain = c[1]!;
    if (line === '' || line === '}' || line.startsWith('table ')) continue;
    out.push(`${chain}: ${line}`);
  }
  return out;
}

// Multiset difference both ways; order within a chain matters too, so a moved rule shows as both.
export function diffRules(expected: string[], live: string[]): { extra: string[]; missing: string[] } {
  if (expected.join('\n') === live.join('\n')) return { extra: [], missing: [] };
  const left = [...expected];
  const extra: string[] = [];
  for (const r of live) {
    const i = left.indexOf(r);
    if (i >= 0) left.splice(i, 1);
    else extra.push(r);
  }
  if (extra.length === 0 && left.length === 0) return { extra: ['(same rules in a different order)'], missing: [] };
  return { extra, missing: left };
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}
