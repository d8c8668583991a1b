// Whether every allowed connection has its record in the proxy's audit log: each connection the
// proxy answered 200 is matched to a distinct "allowed" record for its name whose start time is
// near the connection's, earliest first. A record may stand for a tunnel's opening or its close
// (a proxy may write both); a connection with no record left to match is evidence lost.

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
}

export interface AuditMatch {
  expected: number;
  matched: number;
  missing: AllowedConnection[];
}

/** How far a record's start may be from the client's: the proxy stamps the accept, the client its connect call. */
export const MATCH_SLACK_MS = { before: 2000, after: 10_000 };

// Matches connections to allowed records (greedy, in start order, each record used once).
export function matchAllowed(connections: readonly AllowedConnection[], records: readonly AuditLine[]): AuditMatch {
  const byName = new Map<string, number[]>();
  for (const r of records) {
    if (r.decision !== 'allowed') continue;
    const t = Date.parse(r.time);
    if (!Number.isFinite(t)) continue;
    const list = byName.get(r.name) ?? [];
    list.push(t);
    byName.set(r.name, list);
  }
  for (const list of byName.values()) list.sort((a, b) => a - b);
  const used = new Map<string, Set<number>>();
  const missing: AllowedConnection[] = [];
  for (const c of [...connections].sort((a, b) => a.start - b.start)) {
    const list = byName.get(c.name) ?? [];
    const taken = used.get(c.name) ?? new Set<number>();
    used.set(c.name, taken);
    const i = list.findIndex((t, k) => !taken.has(k) && t >= c.start - MATCH_SLACK_MS.before && t <= Math.max(c.start + MATCH_SLACK_MS.after, c.end));
    if (i < 0) missing.push(c);
    else taken.add(i);
  }
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
