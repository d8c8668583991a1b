// Rate-limits refusal records per client: a client's first refusals in each window are logged one
// by one, the rest become one summary record per window with their count and commonest reasons.
// A hostile VM can be refused tens of thousands of times a second; without this, its refusals
// would fill the audit log and rotate the allowed records (the evidence) out.

import type { AuditRecord } from './config.ts';

export interface SummaryOptions {
  windowMs: number;
  /** Refusals logged one by one per window, per client the proxy lets in. */
  perWindow: number;
  /** The same for clients outside allowClients (scanners): usually 1, the first one seen. */
  perWindowNotAllowed: number;
  /** Clients tracked at once; further ones share one bucket ("other clients"). */
  maxClients: number;
  now: () => number;
  write: (record: AuditRecord) => void;
}

interface Bucket {
  start: number;
  logged: number;
  suppressed: number;
  reasons: Map<string, number>;
  names: Map<string, number>;
  client: string;
  door?: AuditRecord['door'];
}

const MAX_REASONS = 16;
const OTHER_CLIENTS = 'other clients';

// Returns the gate every record passes through, and a flush for shutdown.
export function refusalSummary(options: SummaryOptions): { record(record: AuditRecord, allowedClient: boolean): void; flush(): void; stop(): void } {
  const buckets = new Map<string, Bucket>();
  // Writes the summary of every bucket whose window has ended (all of them when `all`).
  const flush = (all = false): void => {
    const now = options.now();
    for (const [key, bucket] of buckets) {
      if (!all && now - bucket.start < options.windowMs) continue;
      buckets.delete(key);
      if (bucket.suppressed === 0) continue;
      const top = (m: Map<string, number>): string => [...m].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([r, n]) => `${r} ×${n}`).join(', ');
      const names = bucket.names.size > 0 ? `; names: ${top(bucket.names)}` : '';
      options.write({
        time: new Date(bucket.start).toISOString(),
        client: bucket.client,
        name: '',
        port: 0,
        decision: 'refused',
        reason: `${bucket.suppressed} more refusal${bucket.suppressed === 1 ? '' : 's'} not logged one by one: ${top(bucket.reasons)}${names}`,
        bytesUp: 0,
        bytesDown: 0,
        durationMs: Math.max(0, now - bucket.start),
        ...(bucket.door && { door: bucket.door }),
        event: 'summary',
        count: bucket.suppressed,
        until: new Date(now).toISOString(),
      });
    }
  };
  const timer = setInterval(() => flush(), Math.max(50, Math.floor(options.windowMs / 4)));
  timer.unref();
  return {
    record(record, allowedClient) {
      if (record.decision !== 'refused' || record.event !== undefined) return options.write(record);
      const now = options.now();
      let key = `${allowedClient ? 'in' : 'out'} ${record.client}`;
      let bucket = buckets.get(key);
      if (bucket && now - bucket.start >= options.windowMs) {
        flush();
        bucket = buckets.get(key);
      }
      if (!bucket) {
        if (buckets.size >= options.maxClients) key = `${allowedClient ? 'in' : 'out'} ${OTHER_CLIENTS}`;
        bucket = buckets.get(key);
        if (!bucket) {
          bucket = { start: now, logged: 0, suppressed: 0, reasons: new Map(), names: new Map(), client: key.slice(key.indexOf(' ') + 1), ...(record.door && { door: record.door }) };
          buckets.set(key, bucket);
        }
      }
      const limit = allowedClient ? options.perWindow : options.perWindowNotAllowed;
      if (bucket.logged < limit && bucket.client !== OTHER_CLIENTS) {
        bucket.logged++;
        return options.write(record);
      }
      bucket.suppressed++;
      count(bucket.reasons, record.reason.length > 120 ? `${record.reason.slice(0, 117)}...` : record.reason, 'other reasons');
      if (record.name) count(bucket.names, `${record.name}:${record.port}`, 'other names');
    },
    flush: () => flush(true),
    stop: () => clearInterval(timer),
  };
}

// Counts `key` in a tally kept to MAX_REASONS entries; past that, under `other`.
function count(tally: Map<string, number>, key: string, other: string): void {
  const k = tally.has(key) || tally.size < MAX_REASONS ? key : other;
  tally.set(k, (tally.get(k) ?? 0) + 1);
}
