// A cap on how many audit records one door writes per second: under a flood (a VM sending
// thousands of DNS queries) the first `perSecond` records of each second are written as they
// come, the rest only counted, and one summary record says how many were left out. So a flood
// can neither fill the disk nor drown the records that matter, and none goes unaccounted.

import type { AuditRecord } from '../formats/proxy-config.ts';

export interface AuditFlood {
  /** Writes the record, or counts it when this second's share is used up. */
  write(record: AuditRecord): void;
  /** Writes the summary of a second that is still open (on close). */
  flush(): void;
}

// Wraps `audit` (the log's writer) for one door; `now` is milliseconds since the epoch.
export function limitAudit(audit: (record: AuditRecord) => void, perSecond: number, now: () => number): AuditFlood {
  let second = -1;
  let written = 0;
  let left: { count: number; first: AuditRecord; last: AuditRecord } | undefined;
  let timer: NodeJS.Timeout | undefined;
  const summarise = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!left) return;
    const { count, first, last } = left;
    left = undefined;
    audit({
      time: first.time, ...(first.door ? { door: first.door } : {}), client: first.client, name: '', port: first.port,
      decision: 'refused', reason: `flood: ${count} more record(s) not written one by one (at most ${perSecond} a second)`,
      bytesUp: 0, bytesDown: 0, durationMs: 0, event: 'summary', count, until: last.time,
    });
  };
  return {
    write(record) {
      const s = Math.floor(now() / 1000);
      if (s !== second) {
        summarise();
        second = s;
        written = 0;
      }
      if (written < perSecond) {
        written++;
        audit(record);
        return;
      }
      if (left) {
        left.count++;
        left.last = record;
      } else {
        left = { count: 1, first: record, last: record };
        // The summary is written when the second ends even if the flood stopped with it.
        timer = setTimeout(summarise, 1000 - (now() % 1000) + 1);
        timer.unref();
      }
    },
    flush: summarise,
  };
}
