// The VM's snapshots as tart has them, newest first, with what nanopolicy recorded about each.

import type { CommandRunner } from '../host/command-runner.ts';
import { ownSnapshots, snapshotTime } from './snapshot-names.ts';
import { readRecords, RecordsError, type VerifyOutcome } from './snapshot-records.ts';
import { listVms } from '../host/tart-vms.ts';

export interface SnapshotRow {
  name: string;
  /** ISO UTC time, from the name. */
  takenAt: string;
  /** The policy sha256 of the enforce run that took it, when recorded here. */
  policySha256?: string;
  /** The verify result of the run that followed, when there was one. */
  verify?: VerifyOutcome;
}

/** Why the snapshots could not be listed: tart could not be asked, or our records are unreadable. */
export class SnapshotsUnavailable extends Error {
  constructor(message: string, readonly source: 'tart' | 'records') {
    super(message);
  }
}

// Lists the snapshots of `vm`; a SnapshotsUnavailable says why tart could not be asked, or why the
// records could not be read (and how to fix that).
export async function listSnapshots(runner: CommandRunner, vm: string, stateDir: string): Promise<SnapshotRow[] | SnapshotsUnavailable> {
  const vms = await listVms(runner);
  if (typeof vms === 'string') return new SnapshotsUnavailable(vms, 'tart');
  let records;
  try {
    records = readRecords(stateDir);
  } catch (e) {
    if (e instanceof RecordsError) return new SnapshotsUnavailable(`${e.message.replace(/\.$/, '')}. ${e.fix}`, 'records');
    throw e;
  }
  return ownSnapshots(vm, vms.map((v) => v.name))
    .reverse()
    .map((name) => {
      const rec = records.snapshots.find((s) => s.name === name);
      return {
        name,
        takenAt: snapshotTime(vm, name)!,
        ...(rec ? { policySha256: rec.policySha256 } : {}),
        ...(rec?.verify ? { verify: rec.verify } : {}),
      };
    });
}
