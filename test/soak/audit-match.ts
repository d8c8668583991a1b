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
// opening, which cannot know the end). Earliest first within each pass.
export function matchAllowed(connections: readonly AllowedConnection[], records: readonly AuditLine[]): AuditMatch {
  const pool = records
    .filter((r) => r.decision === 'allowed' && Number.isFinite(Date.parse(r.time)))
    .map((r) => ({ name: r.name, start: Date.parse(r.time), end: Date.parse(r.time) + (r.durationMs ?? 0), used: false }))
    .sort((a, b) => a.start - b.start);
  const near = (a: number, b: number, slack: number) => Math.abs(a - b) <= slack;
  const take = (c: AllowedConnection, withEnd: boolean): boolean => {
    const r = pool.find((x) => !x.used && x.name === c.name && near(x.start, c.start, MATCH_SLACK_MS.start) && (!withEnd || near(x.end, c.end, MATCH_SLACK_MS.end)));
    if (r) r.used = true;
    return r !== undefined;
  };
  const ordered = [...connections].sort((a, b) => a.start - b.start);
  const left = ordered.filter((c) => !take(c, true));
  const missing = left.filter((c) => !take(c, false));
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
