// Reads the egress proxy's audit log (JSON lines) from a byte offset: for `nanopolicy log` and for
// verify's check that the log holds this run's probe attempts.

import { existsSync, readFileSync } from 'node:fs';
import type { AuditRecord } from '../../formats/proxy-config.ts';

// The complete lines from `offset` on, as records; a half-written last line waits for the next read.
export function readRecords(path: string, offset: number): { records: AuditRecord[]; offset: number } {
  if (!existsSync(path)) return { records: [], offset: 0 };
  const text = readFileSync(path).subarray(offset).toString('utf8');
  const end = text.lastIndexOf('\n') + 1;
  const records: AuditRecord[] = [];
  for (const line of text.slice(0, end).split('\n')) {
    if (!line.trim()) continue;
    try {
      records.push(JSON.parse(line) as AuditRecord);
    } catch {
      // A line that is not JSON is skipped, not fatal: the log is for reading, whatever happened.
    }
  }
  return { records, offset: offset + Buffer.byteLength(text.slice(0, end)) };
}
