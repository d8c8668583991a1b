// The benchmark's output: hyperfine-style blocks per row, then one summary table; or JSON.

import type { Row, Stats } from './summarize.ts';
import { BUSY_SPEED, type MachineSummary } from './machine-gauge.ts';

export interface Report {
  machine: { cpus: number; loadavg: number[]; node: string; when: string };
  rows: Row[];
  /** Groups whose commands failed (their rows are missing). */
  failures: string[];
}

// Readable text: each row's commands with median [min … max] and peak memory, then the figure.
export function formatText(report: Report): string {
  const out: string[] = [];
  const m = report.machine;
  out.push(`nanopolicy bench — ${m.when}, node ${m.node}, ${m.cpus} CPU(s), load ${m.loadavg.map((l) => l.toFixed(2)).join(' ')}`);
  out.push('Ratios compare medians measured in the same run, so machine load cancels out mostly.');
  if (report.rows.some((r) => r.machine)) {
    out.push(`Between rounds a fixed loop runs alone, then on every core: a round is busy when fewer cores were free or one ran below ${BUSY_SPEED}× the run's best. Busy rows measure the machine as much as the code: rerun them.`);
  }
  for (const row of report.rows) {
    out.push('', `${row.title}`);
    for (const [role, s] of [['subject', row.subject], ['vs', row.reference], ['small', row.extra]] as const) {
      if (s) out.push(statsLine(role, s));
    }
    if (row.machine) out.push(`  machine ${machineText(row.machine)}`);
    out.push(`  => ${figureText(row)}${goalText(row)}${row.note ? `  (${row.note})` : ''}`);
  }
  out.push('', 'Summary', table(report.rows));
  for (const f of report.failures) out.push('', `FAILED ${f}`);
  return `${out.join('\n')}\n`;
}

function statsLine(role: string, s: Stats): string {
  const peak = s.peakKb !== undefined ? `  peak ${(s.peakKb / 1024).toFixed(1)} MB` : '';
  return `  ${role.padEnd(7)} ${ms(s.medianMs).padStart(10)}  [${ms(s.minMs)} … ${ms(s.maxMs)}]${peak}  ${s.runs} runs  ${s.command}`;
}

// A series' machine: whole in every round, or busy in some, with the worst round's figures.
function machineText(m: MachineSummary): string {
  const worst = `${m.worstFreeCores.toFixed(1)} of ${m.cores} cores free at worst, one core at ${m.worstSpeed.toFixed(2)}× the run's best`;
  return m.busyRounds === 0 ? `whole in all ${m.rounds} rounds (${worst})` : `BUSY in ${m.busyRounds} of ${m.rounds} rounds (${worst})`;
}

function table(rows: readonly Row[]): string {
  const gauged = rows.some((r) => r.machine);
  const lines = rows.map((r) => [
    r.title,
    figureText(r),
    r.goal === undefined ? '—' : `≤ ${num(r.goal, r.unit)}`,
    r.met === undefined ? '' : r.met ? 'met' : 'MISSED',
    ...(gauged ? [r.machine === undefined ? '' : r.machine.busyRounds === 0 ? 'whole machine' : `busy ${r.machine.busyRounds}/${r.machine.rounds}`] : []),
  ]);
  const head = ['row', 'figure', 'goal', '', ...(gauged ? ['machine'] : [])];
  const widths = head.map((h, i) => Math.max(...lines.map((l) => l[i]!.length), h.length));
  const fmt = (l: string[]) => `  ${l.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd();
  return [fmt(head), ...lines.map(fmt)].join('\n');
}

function figureText(row: Row): string {
  return row.unit === 'ms' ? (row.figure >= 0 && row.reference ? `+${ms(row.figure)}` : ms(row.figure)) : `${row.figure.toFixed(2)}×`;
}

function goalText(row: Row): string {
  if (row.goal === undefined) return '';
  return `   goal ≤ ${num(row.goal, row.unit)}: ${row.met ? 'met' : 'MISSED'}`;
}

function num(v: number, unit: Row['unit']): string {
  return unit === 'ms' ? ms(v) : `${v}×`;
}

function ms(v: number): string {
  return Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`;
}

// The same report for machines.
export function formatJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
