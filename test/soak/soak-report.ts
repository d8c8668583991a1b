// The soak's table, as text (pure): faults and their recoveries, bytes per path, records kept,
// memory and descriptors per caging process, the cage, and the checks. `--json` prints the result
// itself instead.

import type { SoakResult } from './run-soak.ts';
import { FAULT_KINDS } from './faults.ts';

const pad = (s: string | number, n: number) => String(s).padEnd(n);
const lpad = (s: string | number, n: number) => String(s).padStart(n);
const mib = (kib: number) => `${(kib / 1024).toFixed(1)}`;

// The whole report.
export function formatSoak(r: SoakResult): string {
  const bound = r.options.intervalSeconds * 1000;
  const out: string[] = [];
  out.push(`soak: ${(r.ranMs / 1000).toFixed(1)} s, supervise interval ${r.options.intervalSeconds} s, ${r.faults.length} faults injected${r.aborted ? ` — ABORTED: ${r.aborted}` : ''}`);
  out.push('');
  out.push(`${pad('fault', 16)}${lpad('injected', 9)}${lpad('recovered', 10)}${lpad('<bound', 8)}${lpad('min ms', 9)}${lpad('median', 9)}${lpad('max', 9)}`);
  for (const kind of FAULT_KINDS) {
    const list = r.faults.filter((f) => f.kind === kind);
    const times = list.flatMap((f) => (f.recoveredMs === undefined ? [] : [Math.round(f.recoveredMs)])).sort((a, b) => a - b);
    const under = times.filter((t) => t < bound).length;
    const cell = (t: number | undefined) => (t === undefined ? '-' : t);
    out.push(`${pad(kind, 16)}${lpad(list.length, 9)}${lpad(times.length, 10)}${lpad(under, 8)}${lpad(cell(times[0]), 9)}${lpad(cell(times[Math.floor((times.length - 1) / 2)]), 9)}${lpad(cell(times.at(-1)), 9)}`);
  }
  out.push('');
  out.push(`${pad('path', 8)}${lpad('conns', 7)}${lpad('intact', 8)}${lpad('failed', 8)}${lpad('corrupt', 9)}${lpad('stalled', 9)}${lpad('MiB echoed', 12)}`);
  for (const path of ['alpha', 'beta', 'proxy']) {
    const list = r.connections.filter((c) => c.target === path);
    const n = (o: string) => list.filter((c) => c.outcome === o).length;
    out.push(`${pad(path, 8)}${lpad(list.length, 7)}${lpad(n('intact'), 8)}${lpad(n('failed'), 8)}${lpad(n('corrupt'), 9)}${lpad(n('stalled'), 9)}${lpad((list.reduce((s, c) => s + c.echoed, 0) / 2 ** 20).toFixed(2), 12)}`);
  }
  out.push('');
  const a = r.audit;
  out.push(`records kept: ${a.matched} of ${a.expected} allowed connections have their record; the log holds ${a.lines} lines (${a.allowed} allowed, ${a.refused} refused)${a.rotated ? ', rotated' : ''}`);
  out.push('');
  out.push(`${pad('process', 14)}${lpad('samples', 8)}${lpad('RSS MiB warm', 13)}${lpad('first', 7)}${lpad('last', 7)}${lpad('peak', 7)}${lpad('fds first', 10)}${lpad('last', 6)}${lpad('peak', 6)}  flat`);
  for (const t of r.trends) {
    out.push(`${pad(t.role, 14)}${lpad(t.samples, 8)}${lpad(mib(t.rssWarmPeakKiB), 13)}${lpad(mib(t.rssFirstKiB), 7)}${lpad(mib(t.rssLastKiB), 7)}${lpad(mib(t.rssPeakKiB), 7)}${lpad(t.fdsFirst, 10)}${lpad(t.fdsLast, 6)}${lpad(t.fdsPeak, 6)}  ${t.flat ? 'yes' : `NO (${t.note})`}`);
  }
  out.push('');
  for (const s of r.sweeps) out.push(`sweep at ${(s.at / 1000).toFixed(1)} s: ${s.ms} ms, open ${s.open.join(',') || 'none'}${s.unexpected.length ? ` — UNEXPECTED ${s.unexpected.join(',')}` : ''}`);
  out.push(`canary: ${r.canary.attempts} attempts, ${r.canary.reached.length} reached`);
  out.push('');
  out.push('faults:');
  for (const f of r.faults) out.push(`  ${lpad((f.at / 1000).toFixed(1), 6)} s ${pad(f.kind, 15)} ${f.recoveredMs !== undefined ? `${lpad(Math.round(f.recoveredMs), 6)} ms` : '    no recovery'}  ${f.detail}${f.error && f.recoveredMs === undefined ? ` (${f.error})` : ''}${f.degraded ? ` DEGRADED: ${f.degraded}` : ''}`);
  out.push('');
  out.push('checks:');
  for (const c of r.checks) {
    out.push(`  ${c.ok ? 'PASS' : 'FAIL'} ${pad(c.name, 9)} ${c.detail}`);
    for (const e of c.evidence ?? []) out.push(`         - ${e}`);
  }
  return `${out.join('\n')}\n`;
}
