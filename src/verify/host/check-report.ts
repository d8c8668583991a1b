// The VM's report is the VM's word: before any row of it is shown, it must answer this run's
// challenge, every row must have the shape the probe writes, claim only a probe group (never a host
// check or a canary, which are the host's own evidence), and carry no control characters.
// Whatever fails here becomes a failing host row; the VM's strings are printed only sanitized.

import type { InsideReport, InsideStats, ProbeResult } from '../inside/result.ts';
import { PROBE_GROUPS } from '../inside/run-probes.ts';
import { hasUnsafeText, sanitizeText } from '../sanitize-text.ts';
import { hostRow } from './host-result.ts';

export interface CheckedReport {
  /** The VM's rows that may be shown, sanitized. */
  rows: ProbeResult[];
  /** Host rows about the report itself (failures only, plus one ok row for the challenge). */
  problems: ProbeResult[];
  stats?: InsideStats;
}

const TEXT_FIELDS = ['group', 'probe', 'expected', 'measured'] as const;

// Checks a parsed report against the challenge this run sent.
export function checkReport(report: unknown, challenge: string): CheckedReport {
  const problems: ProbeResult[] = [];
  const r = (report ?? {}) as Partial<InsideReport>;
  const answered = typeof r.challenge === 'string' ? r.challenge : undefined;
  problems.push(
    hostRow('VM report: this run\'s challenge', 'echoed', answered === challenge ? 'echoed' : answered === undefined ? 'MISSING' : 'WRONG', answered === challenge, 0,
      answered === undefined
        ? 'the VM\'s report carries no challenge: it was not written by this run\'s probe (replayed or forged)'
        : `the VM's report answers challenge "${sanitizeText(answered).slice(0, 40)}", not this run's: it is replayed from an earlier run or forged`),
  );
  const rows: ProbeResult[] = [];
  let unsafe = 0;
  const refused = new Map<string, number>();
  let malformed = 0;
  for (const raw of Array.isArray(r.results) ? r.results : []) {
    const row = raw as Partial<ProbeResult> | null;
    if (!row || typeof row !== 'object' || TEXT_FIELDS.some((f) => typeof row[f] !== 'string') || typeof row.ok !== 'boolean'
      || (row.detail !== undefined && typeof row.detail !== 'string')) {
      malformed++;
      continue;
    }
    const texts = [...TEXT_FIELDS.map((f) => row[f] as string), ...(row.detail !== undefined ? [row.detail] : [])];
    if (texts.some(hasUnsafeText)) unsafe++;
    const clean: ProbeResult = {
      group: sanitizeText(row.group!),
      probe: sanitizeText(row.probe!),
      expected: sanitizeText(row.expected!),
      measured: sanitizeText(row.measured!),
      ok: row.ok,
      ms: typeof row.ms === 'number' && Number.isFinite(row.ms) && row.ms >= 0 ? Math.round(row.ms) : 0,
      ...(row.detail !== undefined ? { detail: sanitizeText(row.detail) } : {}),
      // Kept only as the weaker claim it is: a row the VM says it did not try is counted as not
      // probed, never as correct (and a failed row stays failed).
      ...(row.probed === false && row.ok ? { probed: false as const } : {}),
    };
    // Only the probe groups are the VM's to report: a "host" or "canary" row from the VM is a forgery.
    if (!(PROBE_GROUPS as readonly string[]).includes(row.group!)) {
      refused.set(clean.group, (refused.get(clean.group) ?? 0) + 1);
      continue;
    }
    rows.push(clean);
  }
  if (malformed > 0) {
    problems.push(hostRow('VM report: row shape', 'as the probe writes', `${malformed} MALFORMED`, false, 0, `the VM's report has ${malformed} row(s) the probe never writes: it is forged or corrupted`));
  }
  for (const [group, n] of refused) {
    problems.push(hostRow(`VM report: "${group}" rows`, 'none from the VM', `${n} REFUSED`, false, 0,
      `the VM's report claims ${n} row(s) for "${group}", which only the host may report: refused, the report is forged`));
  }
  if (unsafe > 0) {
    problems.push(hostRow('VM report: control characters', 'none', `${unsafe} row(s)`, false, 0,
      `${unsafe} row(s) of the VM's report carry control characters or escape sequences (shown escaped): the probe never writes them, so the report is forged`));
  }
  return { rows, problems, ...(r.stats && typeof r.stats === 'object' ? { stats: cleanStats(r.stats as unknown as Record<string, unknown>) } : {}) };
}

// The figures, as numbers (and the engine's name sanitized): nothing else of the VM's passes.
function cleanStats(s: Record<string, unknown>): InsideStats {
  const n = (k: string) => (typeof s[k] === 'number' && Number.isFinite(s[k]) ? (s[k] as number) : 0);
  return {
    sweepMs: n('sweepMs'), totalMs: n('totalMs'), maxSocketsOpen: n('maxSocketsOpen'), socketLimit: n('socketLimit'),
    connectAttempts: n('connectAttempts'), engine: typeof s.engine === 'string' ? sanitizeText(s.engine).slice(0, 40) : '', peakRssBytes: n('peakRssBytes'),
  };
}
