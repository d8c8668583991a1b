// verify's result, kept beside enforce's state: the last result for `status`, and on the snapshot
// the enforce run now in force took, for `snapshots`. A record, never a proof: verify proves.

import { existsSync } from 'node:fs';
import { readState } from '../formats/enforce-state.ts';
import { updateRecords, type VerifyOutcome } from './snapshot-records.ts';

// Records only where enforce keeps a state directory: verify alone never creates one.
export function recordVerify(stateDir: string, outcome: VerifyOutcome): void {
  if (!existsSync(stateDir)) return;
  const state = readState(stateDir);
  updateRecords(stateDir, (r) => {
    r.lastVerify = outcome;
    const snap = state?.snapshot === undefined ? undefined : r.snapshots.find((s) => s.name === state.snapshot);
    if (snap) snap.verify = outcome;
  });
}
