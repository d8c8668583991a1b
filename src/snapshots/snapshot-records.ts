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

// Reads the records; a missing file is an empty record, a corrupt one an error.
export function readRecords(stateDir: string): WorkflowRecords {
  const path = recordsPath(stateDir);
  if (!existsSync(path)) return { format: 1, snapshots: [] };
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as WorkflowRecords;
  if (parsed.format !== 1 || !Array.isArray(parsed.snapshots)) throw new Error(`${path}: unknown format`);
  return parsed;
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
