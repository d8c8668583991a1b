// Whether each role's memory and descriptors stayed flat over the soak: the median of the first
// quarter of its samples (after the warm-up) against the median of the last quarter. A leak grows
// with connections and faults, so over a soak it shows as a last quarter above the first — and
// above the warm-up's peak, which a heap reaches once under a flood and keeps without leaking.

import type { Sample } from './sampler.ts';

/** Allowed growth, first quarter → last: RSS by a quarter or 16 MiB (GC and buffers breathe), fds by 8. */
export const RSS_GROWTH = { ratio: 1.25, kib: 16 * 1024 };
export const FD_GROWTH = 8;

export interface RoleTrend {
  role: string;
  samples: number;
  /** The highest RSS during the warm-up (its refusal flood): a heap's high-water mark is no leak. */
  rssWarmPeakKiB: number;
  rssFirstKiB: number;
  rssLastKiB: number;
  /** Over every sample, warm-up included. */
  rssPeakKiB: number;
  fdsFirst: number;
  fdsLast: number;
  fdsPeak: number;
  flat: boolean;
  /** Why it is not flat, or why the answer is weak. */
  note?: string;
}

// The trend of every role sampled, sorted by role: quarters compared over the samples from
// `windowFrom` on (after the warm-up), peaks over them all.
export function trends(samples: readonly Sample[], windowFrom = -Infinity, growth: { ratio: number; kib: number } = RSS_GROWTH): RoleTrend[] {
  const roles = [...new Set(samples.map((s) => s.role))].sort();
  return roles.map((role) => {
    const all = samples.filter((s) => s.role === role);
    const warm = all.filter((s) => s.at < windowFrom).map((s) => s.rssKiB);
    const t = trend(role, all.filter((s) => s.at >= windowFrom).sort((a, b) => a.at - b.at), warm.length ? Math.max(...warm) : 0, growth);
    return { ...t, rssPeakKiB: Math.max(...all.map((s) => s.rssKiB)), fdsPeak: Math.max(...all.map((s) => s.fds)) };
  });
}

function trend(role: string, list: readonly Sample[], rssWarmPeakKiB: number, growth: { ratio: number; kib: number }): RoleTrend {
  const q = Math.max(1, Math.floor(list.length / 4));
  const first = list.slice(0, q);
  const last = list.slice(-q);
  const t: RoleTrend = {
    role,
    samples: list.length,
    rssWarmPeakKiB,
    rssFirstKiB: median(first.map((s) => s.rssKiB)),
    rssLastKiB: median(last.map((s) => s.rssKiB)),
    rssPeakKiB: 0,
    fdsFirst: median(first.map((s) => s.fds)),
    fdsLast: median(last.map((s) => s.fds)),
    fdsPeak: 0,
    flat: true,
  };
  // Growth is measured from the first quarter, or from the warm-up's high-water mark if higher: a
  // process restarted by the chaos starts small and climbs back to it under the next flood.
  const base = Math.max(t.rssFirstKiB, rssWarmPeakKiB);
  const rssLimit = Math.max(base * growth.ratio, base + growth.kib);
  const notes: string[] = [];
  if (list.length < 8) {
    // Too few samples to tell a trend: not a pass.
    t.flat = false;
    notes.push(`only ${list.length} samples`);
  }
  if (t.rssLastKiB > rssLimit) {
    t.flat = false;
    notes.push(`RSS grew ${t.rssFirstKiB} → ${t.rssLastKiB} KiB (warm-up peak ${rssWarmPeakKiB} KiB)`);
  }
  if (t.fdsLast > t.fdsFirst + FD_GROWTH) {
    t.flat = false;
    notes.push(`fds grew ${t.fdsFirst} → ${t.fdsLast}`);
  }
  if (notes.length) t.note = notes.join('; ');
  return t;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.floor((s.length - 1) / 2)]!;
}
