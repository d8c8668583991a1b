// The audit log: one JSON line per decision, appended, owner-only (0600: names the agent tried
// are private), rotated by size to log.1 so a chatty agent cannot fill the disk.

import { closeSync, fchmodSync, fstatSync, openSync, renameSync, writeSync } from 'node:fs';
import type { AuditRecord } from '../formats/proxy-config.ts';

export interface AuditLog {
  write(record: AuditRecord): void;
  close(): void;
}

// Opens (creating if needed) the log at `path`. Writes are synchronous: a line is on disk when
// write() returns, so a crash or SIGKILL loses no decision and SIGTERM has nothing to flush.
export function openAuditLog(path: string, rotateBytes: number): AuditLog {
  let fd = openLog(path);
  let size = fstatSync(fd).size;
  return {
    write(record) {
      const line = Buffer.from(`${JSON.stringify(record)}\n`);
      if (fd < 0) throw new Error('the audit log is closed');
      if (size > 0 && size + line.length > rotateBytes) {
        closeSync(fd);
        // Never left holding a closed descriptor number: the kernel may hand it to a socket.
        fd = -1;
        try {
          renameSync(path, `${path}.1`);
        } finally {
          fd = openLog(path);
          size = fstatSync(fd).size;
        }
      }
      writeSync(fd, line);
      size += line.length;
    },
    close() {
      if (fd >= 0) closeSync(fd);
      fd = -1;
    },
  };
}

// Opens the log for appending, owner-only.
function openLog(path: string): number {
  const fd = openSync(path, 'a', 0o600);
  // The mode given to open applies only when the file is created; an older log keeps its own.
  fchmodSync(fd, 0o600);
  return fd;
}
