// Whether every allowed connection has its record in the proxy's audit log: each connection the
// proxy answered 200 is matched to a distinct "allowed" record for its name whose times are near
// the connection's. A record may stand for a tunnel's opening or its close (a proxy may write
// both); a connection with no record left to match is evidence lost.

export interface AllowedConnection {
  /** The name in the CONNECT. */
  name: string;
  /** When the client started connecting (epoch ms). */
  start: number;
  /** When the client saw it end (epoch ms). */
  end: number;
  /** Who made it: "clients long", "probe", … for the report. */
  who: string;
}

export interface AuditLine {
  time: string;
  name: string;
  decision: string;
  reason?: string;
  durationMs?: number;
}

export interface AuditMatch {
  expected: number;
  matched: number;
  missing: AllowedConnection[];
}

/**
 * How far a record may be from its connection. The proxy stamps its accept and its close, the
 * client its connect call and the moment it saw the end: near, but a loaded machine delays either
 * (seconds, when a sweep and a flood share two cores with the test suite).
 */
export const MATCH_SLACK_MS = { start: 5000, end: 5000 };

// Matches connections to allowed records, each record used once: first by start and end together
// (a record written at the close), then what is left by start alone (a record written at the
// opening, which cannot know the end). In each pass the nearest pairs are taken first, so a lost
// record is missed where it was lost, not passed along a chain of neighbours to the last one.
export function matchAllowed(connections: readonly AllowedConnection[], records: readonly AuditLine[]): AuditMatch {
  const pool = records
    .filter((r) => r.decision === 'allowed' && Number.isFinite(Date.parse(r.time)))
    .map((r) => ({ name: r.name, start: Date.parse(r.time), end: Date.parse(r.time) + (r.durationMs ?? 0), used: false }))
    .sort((a, b) => a.start - b.start);
  // The first record starting at or after `t` (binary search): a connection looks only at its window.
  const from = (t: number) => {
    let lo = 0;
    let hi = pool.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pool[mid]!.start < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const conns = connections.map((c) => ({ c, matched: false }));
  const pass = (withEnd: boolean) => {
    const pairs: Array<[cost: number, ci: number, ri: number]> = [];
    conns.forEach((x, ci) => {
      if (x.matched) return;
      for (let ri = from(x.c.start - MATCH_SLACK_MS.start); ri < pool.length && pool[ri]!.start <= x.c.start + MATCH_SLACK_MS.start; ri++) {
        const r = pool[ri]!;
        if (r.used || r.name !== x.c.name) continue;
        const ds = Math.abs(r.start - x.c.start);
        const de = Math.abs(r.end - x.c.end);
        if (withEnd && de > MATCH_SLACK_MS.end) continue;
        pairs.push([withEnd ? ds + de : ds, ci, ri]);
      }
    });
    pairs.sort((a, b) => a[0] - b[0]);
    for (const [, ci, ri] of pairs) {
      if (conns[ci]!.matched || pool[ri]!.used) continue;
      conns[ci]!.matched = true;
      pool[ri]!.used = true;
    }
  };
  pass(true);
  pass(false);
  const missing = conns.filter((x) => !x.matched).map((x) => x.c).sort((a, b) => a.start - b.start);
  return { expected: connections.length, matched: connections.length - missing.length, missing };
}

// Parses audit log text (JSON lines); lines that do not parse are counted, not thrown.
export function parseAudit(text: string): { records: AuditLine[]; unreadable: number } {
  const records: AuditLine[] = [];
  let unreadable = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      records.push(JSON.parse(line) as AuditLine);
    } catch {
      unreadable++;
    }
  }
  return { records, unreadable };
}
