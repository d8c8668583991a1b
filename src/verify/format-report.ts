// The truth table: rows grouped, expected against measured, failures named in plain sentences, and a
// summary ("17 wrong, 64 correct"). Returns text; the CLI writes it.

import type { ProbeResult } from './inside/result.ts';
import { sanitizeText } from './sanitize-text.ts';

export interface Paint {
  red(s: string): string;
  green(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

export const NO_PAINT: Paint = { red: (s) => s, green: (s) => s, dim: (s) => s, bold: (s) => s };

const GROUP_TITLES: Record<string, string> = {
  host: 'Host', bridges: 'Bridges', hosts: 'Hosts lines', gateway: 'Gateway sweep', direct: 'Around the bridges', proxy: 'Egress by name (through the proxy)',
  egress: 'Egress', dns: 'DNS', icmp: 'ICMP', mounts: 'Shares', canary: 'Canaries on the gateway',
};

// The table, then the failures, then the summary line.
export function formatReport(rawResults: readonly ProbeResult[], paint: Paint = NO_PAINT): string {
  // Rows were sanitized where they entered; again here, since this text goes to a terminal.
  const results = rawResults.map((r) => ({ ...r, group: sanitizeText(r.group), probe: sanitizeText(r.probe), expected: sanitizeText(r.expected), measured: sanitizeText(r.measured), ...(r.detail !== undefined ? { detail: sanitizeText(r.detail) } : {}) }));
  const groups = [...new Set(results.map((r) => r.group))];
  const width = (f: (r: ProbeResult) => string, max: number) => Math.min(max, Math.max(...results.map((r) => f(r).length), 0));
  const wProbe = width((r) => r.probe, 58);
  const wExp = width((r) => r.expected, 22);
  const wMeas = width((r) => r.measured, 40);
  const lines: string[] = [];
  for (const g of groups) {
    lines.push(paint.bold(GROUP_TITLES[g] ?? g));
    for (const r of results.filter((x) => x.group === g)) {
      const mark = !r.ok ? paint.red('FAIL') : r.probed === false ? paint.dim('--  ') : paint.green('ok  ');
      const measured = pad(r.measured, wMeas);
      lines.push(`  ${mark} ${pad(r.probe, wProbe)}  ${pad(r.expected, wExp)}  ${r.ok ? measured : paint.red(measured)}  ${paint.dim(`${r.ms} ms`)}`);
    }
  }
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) {
    lines.push('', paint.bold(paint.red('What does not hold:')));
    for (const r of failed) lines.push(`  - ${r.detail ?? `${r.probe}: expected ${r.expected}, measured ${r.measured}`}`);
  }
  const notes = results.filter((r) => r.ok && r.detail);
  if (notes.length > 0) {
    lines.push('', 'Notes:');
    for (const r of notes) lines.push(`  - ${r.detail}`);
  }
  lines.push('', summaryLine(results, paint));
  return `${lines.join('\n')}\n`;
}

// "17 wrong, 64 correct" (", 2 not probed" when rows were not tried), coloured by outcome.
export function summaryLine(results: readonly ProbeResult[], paint: Paint = NO_PAINT): string {
  const wrong = results.filter((r) => !r.ok).length;
  const notProbed = results.filter((r) => r.ok && r.probed === false).length;
  const text = `${wrong} wrong, ${results.length - wrong - notProbed} correct${notProbed ? `, ${notProbed} not probed` : ''}`;
  return wrong > 0 ? paint.red(text) : paint.green(text);
}

function pad(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n);
}
