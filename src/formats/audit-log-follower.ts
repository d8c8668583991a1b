// Follows the egress proxy's audit log as it grows, across rotation: the reader keeps the file it
// is reading open, so when the proxy moves it to log.1 (or replaces log.1 with a copy and unlinks
// it) the lines written just before the rotation are still read from the old file, and then the
// new log from its start. Reading by path alone lost those lines.

import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import type { AuditRecord } from '../proxy/config.ts';

export class AuditLogFollower {
  private fd = -1;
  private ino = -1;
  private offset = 0;
  private partial = Buffer.alloc(0);

  // `offset`: where in the current log to start (its size, to print only what comes next).
  constructor(private readonly path: string, offset = 0) {
    this.offset = offset;
    this.open(offset);
  }

  // The complete records appended since the last poll, the old file's last ones first.
  poll(): AuditRecord[] {
    if (this.fd < 0) this.open(0);
    if (this.fd < 0) return [];
    const out = this.readMore();
    let now: number | undefined;
    try {
      now = statSync(this.path).ino;
    } catch {
      now = undefined;
    }
    if (now !== this.ino) {
      // Rotated: the old file is complete (the proxy writes whole lines and never returns to it).
      closeSync(this.fd);
      this.fd = -1;
      this.partial = Buffer.alloc(0);
      this.open(0);
      if (this.fd >= 0) out.push(...this.readMore());
    }
    return out;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  // Opens the current log, if there is one, at `offset` (0 when the file is now shorter).
  private open(offset: number): void {
    try {
      this.fd = openSync(this.path, 'r');
    } catch {
      this.fd = -1;
      return;
    }
    const st = fstatSync(this.fd);
    this.ino = st.ino;
    this.offset = st.size < offset ? 0 : offset;
  }

  // Reads from the open file to its end and returns the complete lines as records.
  private readMore(): AuditRecord[] {
    const chunks: Buffer[] = [this.partial];
    const buffer = Buffer.alloc(1 << 16);
    for (;;) {
      const n = readSync(this.fd, buffer, 0, buffer.length, this.offset);
      if (n <= 0) break;
      chunks.push(Buffer.from(buffer.subarray(0, n)));
      this.offset += n;
    }
    const bytes = Buffer.concat(chunks);
    const end = bytes.lastIndexOf(0x0a) + 1;
    this.partial = bytes.subarray(end);
    const records: AuditRecord[] = [];
    for (const line of bytes.subarray(0, end).toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        records.push(JSON.parse(line) as AuditRecord);
      } catch {
        // A line that is not JSON is skipped, not fatal: the log is for reading, whatever happened.
      }
    }
    return records;
  }
}
