// What nanopolicy remembers about its snapshots beside what tart knows: when each was taken, for
// which policy, and the verify result of the enforce run that followed. One JSON file in the state
// directory, written atomically; a snapshot tart no longer has is simply not listed.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface VerifyOutcome {
  ok: boolean;
  /** Expectations that did not hold. */
  wrong: number;
  at: string;
}

export interface SnapshotRecord {
  name: string;
  vm: string;
  takenAt: string;
  policySha256: string;
  /** The last verify while the enforce run that took this snapshot was in force. */
  verify?: VerifyOutcome;
}

export interface WorkflowRecords {
  format: 1;
  snapshots: SnapshotRecord[];
  lastVerify?: VerifyOutcome;
}

export function recordsPath(stateDir: string): string {
  return join(stateDir, 'snapshots.json');
}

/** The records file cannot be read: one sentence naming the file, and what to do (`fix`). */
export class RecordsError extends Error {
  constructor(
    readonly path: string,
    why: string,
    readonly fix = `Move it aside (mv ${shellWord(path)} ${shellWord(`${path}.corrupt`)}) and run the command again: the snapshots themselves are still in "tart list"; only the times and verify results recorded for them are lost.`,
  ) {
    super(`The snapshot records "${path}" cannot be read: ${why}.`);
  }
}

// Reads the records; a missing file is an empty record, an unreadable or corrupt one a
// RecordsError (never a crash: a half-written or hand-edited file is the owner's to fix).
export function readRecords(stateDir: string): WorkflowRecords {
  const path = recordsPath(stateDir);
  if (!existsSync(path)) return { format: 1, snapshots: [] };
  let parsed: Partial<WorkflowRecords>;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<WorkflowRecords>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RecordsError(path, code ? `${code}` : `it is not JSON (${(e as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || parsed.format !== 1 || !Array.isArray(parsed.snapshots)) {
    throw new RecordsError(path, 'it is not a nanopolicy snapshot record (format 1 with a "snapshots" list)');
  }
  const bad = parsed.snapshots.findIndex((s) => s === null || typeof s !== 'object' || typeof s.name !== 'string' || typeof s.takenAt !== 'string');
  if (bad >= 0) throw new RecordsError(path, `snapshot entry ${bad + 1} has no "name" and "takenAt"`);
  return parsed as WorkflowRecords;
}

// A path as one word for a POSIX shell.
function shellWord(path: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

export function writeRecords(stateDir: string, records: WorkflowRecords): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const path = recordsPath(stateDir);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(records, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

// Applies `change` to the records and writes them back.
export function updateRecords(stateDir: string, change: (r: WorkflowRecords) => void): void {
  const records = readRecords(stateDir);
  change(records);
  writeRecords(stateDir, records);
}
