// verify's result, kept beside enforce's state: the last result for `status`, and on the snapshot
// the enforce run now in force took, for `snapshots`. A record, never a proof: verify proves.

import { readState } from '../enforce/state.ts';
import { updateRecords, type VerifyOutcome } from './snapshot-records.ts';

export function recordVerify(stateDir: string, outcome: VerifyOutcome): void {
  const state = readState(stateDir);
  updateRecords(stateDir, (r) => {
    r.lastVerify = outcome;
    const snap = state?.snapshot === undefined ? undefined : r.snapshots.find((s) => s.name === state.snapshot);
    if (snap) snap.verify = outcome;
  });
}
