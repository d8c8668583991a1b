// Turns samples into the benchmark's rows: median, min and max per command, peak memory, and the
// row's headline figure against its reference, all from the same run.

import type { Sample } from './measure.ts';
import type { MachineSummary } from './machine-gauge.ts';

export interface Stats {
  label: string;
  command: string;
  runs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** The most memory any run of this command held, in KiB (absent without /usr/bin/time). */
  peakKb?: number;
}

/** How a row's figure is computed from its commands' medians. */
export type Figure =
  | { kind: 'ratio' } // subject / reference
  | { kind: 'delta' } // subject − reference, ms
  | { kind: 'absolute' } // subject, ms
  | { kind: 'growth'; small: string }; // (subject − reference) / (small − reference): linearity

export interface RowSpec {
  id: string;
  title: string;
  subject: string;
  reference?: string;
  figure: Figure;
  /** The figure must be at most this (ratio, ms or growth factor, per figure). */
  goal?: number;
  note?: string;
}

export interface Row {
  id: string;
  title: string;
  figure: number;
  unit: '×' | 'ms';
  goal?: number;
  met?: boolean;
  note?: string;
  subject: Stats;
  reference?: Stats;
  extra?: Stats;
  /** How much of the machine the subject's rounds had (absent when the gauge did not run). */
  machine?: MachineSummary;
}

export function stats(label: string, command: string, samples: readonly Sample[]): Stats {
  if (samples.length === 0) throw new Error(`no samples for ${label}`);
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const peaks = samples.map((s) => s.peakKb).filter((k): k is number => k !== undefined);
  return {
    label,
    command,
    runs: ms.length,
    medianMs: median(ms),
    minMs: ms[0]!,
    maxMs: ms[ms.length - 1]!,
    ...(peaks.length ? { peakKb: Math.max(...peaks) } : {}),
  };
}

// The middle value (mean of the two middle ones for an even count) of sorted numbers.
export function median(sorted: readonly number[]): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

// One row from the stats of its commands, by label, and the machine its subject's rounds saw.
export function makeRow(spec: RowSpec, all: Readonly<Record<string, Stats>>, machine?: Readonly<Record<string, MachineSummary>>): Row {
  const get = (label: string) => {
    const s = all[label];
    if (!s) throw new Error(`row ${spec.id}: no measurements for "${label}"`);
    return s;
  };
  const subject = get(spec.subject);
  const reference = spec.reference ? get(spec.reference) : undefined;
  const ref = reference?.medianMs ?? 0;
  let figure: number;
  let unit: Row['unit'] = '×';
  let extra: Stats | undefined;
  switch (spec.figure.kind) {
    case 'ratio':
      if (!reference) throw new Error(`row ${spec.id}: a ratio needs a reference`);
      figure = subject.medianMs / ref;
      break;
    case 'delta':
      figure = subject.medianMs - ref;
      unit = 'ms';
      break;
    case 'absolute':
      figure = subject.medianMs;
      unit = 'ms';
      break;
    case 'growth':
      extra = get(spec.figure.small);
      figure = (subject.medianMs - ref) / Math.max(1, extra.medianMs - ref);
      break;
  }
  return {
    id: spec.id,
    title: spec.title,
    figure,
    unit,
    ...(spec.goal !== undefined ? { goal: spec.goal, met: figure <= spec.goal } : {}),
    ...(spec.note ? { note: spec.note } : {}),
    subject,
    ...(reference ? { reference } : {}),
    ...(extra ? { extra } : {}),
    ...(machine?.[spec.subject] ? { machine: machine[spec.subject] } : {}),
  };
}
