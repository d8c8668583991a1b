// The audit log: one JSON line per decision, appended, owner-only (0600: names the agent tried
// are private), rotated by size to log.1 so a chatty agent cannot fill the disk. Rotation never
// drops an allowed record first: the allowed lines of the old log.1 are carried into the new one,
// so only refusals (which the proxy already rate-limits) are lost to a flood.

import { closeSync, existsSync, fchmodSync, fstatSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
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
          rotate(path, rotateBytes);
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

// Moves the log to log.1. When a log.1 exists, the new log.1 is its allowed lines (the newest
// that fit in rotateBytes) followed by the whole log, written aside and renamed over it: a crash
// midway leaves duplicates, never a gap.
function rotate(path: string, rotateBytes: number): void {
  const older = `${path}.1`;
  const kept = existsSync(older) ? allowedLines(readFileSync(older, 'utf8'), rotateBytes) : '';
  if (kept.length === 0) {
    renameSync(path, older);
    return;
  }
  const aside = `${path}.1.new`;
  const fd = openSync(aside, 'w', 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, kept);
    writeSync(fd, readFileSync(path));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(aside, older);
  unlinkSync(path);
}

// The lines of allowed records ("open" ones included), refusal summaries (a flood's count) and the
// proxy's records about secret sources (rare, and the owner must see them), the newest whose total
// fits in `budget`. Records are our own JSON.stringify output, where "decision":"allowed",
// "event":"summary" and "kind":"secret-…" can only be those fields.
function allowedLines(text: string, budget: number): string {
  const lines = text.split('\n').filter((line) => line.includes('"decision":"allowed"') || line.includes('"event":"summary"') || line.includes(',"kind":"secret-'));
  let bytes = 0;
  let from = lines.length;
  while (from > 0 && bytes + Buffer.byteLength(lines[from - 1]!) + 1 <= budget) bytes += Buffer.byteLength(lines[--from]!) + 1;
  return lines.slice(from).map((line) => `${line}\n`).join('');
}
