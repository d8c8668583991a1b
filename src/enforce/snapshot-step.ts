// `snapshot keep N`: before enforce starts the VM, clone it while it is stopped (APFS makes the
// clone cheap), so `nanopolicy rollback` can bring this state back; after everything else holds,
// delete the oldest of the VM's own snapshots beyond N. Only names of the form <vm>-np-<UTC time>
// are ever deleted: every other VM on the Mac belongs to someone else.

import type { Policy } from '../compiler/policy.ts';
import { ownSnapshots, snapshotName } from '../snapshots/snapshot-names.ts';
import { readRecords, RecordsError, updateRecords as update, type WorkflowRecords } from '../snapshots/snapshot-records.ts';
import { listVms, TART_LIST } from '../host/tart-vms.ts';
import { cmd } from '../host/command.ts';
import { mustRun, noUndo, StepError, type Step } from './step.ts';

// updateRecords, its unreadable-file error turned into a step error with the fix.
function updateRecords(stateDir: string, change: (r: WorkflowRecords) => void): void {
  try {
    update(stateDir, change);
  } catch (e) {
    if (e instanceof RecordsError) throw new StepError(e.message, e.fix);
    throw e;
  }
}

// For undos and the prune, which must not fail on bookkeeping: the records left as they are, said.
function updateRecordsOrSay(stateDir: string, log: (m: string) => void, change: (r: WorkflowRecords) => void): void {
  try {
    update(stateDir, change);
  } catch (e) {
    if (!(e instanceof RecordsError)) throw e;
    log(`${e.message} ${e.fix}`);
  }
}

const PLACEHOLDER_SNAPSHOT = '<snapshot>';
const PLACEHOLDER_OLDER = '<older-snapshot>';

// Clones the stopped VM; its undo deletes that clone (and only it).
export function snapshotStep(policy: Policy, now: () => Date = () => new Date()): Step {
  const name = (s: { snapshot?: string }) => s.snapshot ?? `${policy.vm}-np-${PLACEHOLDER_SNAPSHOT}`;
  return {
    id: 'snapshot-vm',
    describe: `Clone the stopped VM "${policy.vm}" as a snapshot (keep ${policy.snapshots?.keep ?? 0}; the undo runs only if this enforce fails)`,
    commands: (ctx) => [cmd('tart', 'clone', policy.vm, name(ctx.state))],
    // A completed enforce keeps its snapshot (the rollback point): nothing to undo, nothing to print.
    undoCommands: (ctx) => (ctx.state.complete ? [] : [cmd('tart', 'delete', name(ctx.state))]),
    lookUp: () =>
      `no snapshot name is recorded, so none is deleted: "tart list" shows the VM's snapshots (${policy.vm}-np-<UTC time>); they are rollback points, so keep them unless you know this enforce made one and failed`,
    async run(ctx) {
      const snapshot = snapshotName(policy.vm, now());
      // The records must be writable before a clone is made that they would have to name.
      try {
        readRecords(ctx.stateDir);
      } catch (e) {
        if (e instanceof RecordsError) throw new StepError(e.message, e.fix);
        throw e;
      }
      const vms = await listVms(ctx.runner);
      if (typeof vms === 'string') throw new StepError(vms);
      if (vms.some((v) => v.name === snapshot)) throw new StepError(`A VM named "${snapshot}" exists already.`, 'Wait a second and enforce again.');
      if (vms.find((v) => v.name === policy.vm)?.running) throw new StepError(`The VM "${policy.vm}" runs: a snapshot is taken of the stopped VM only.`, `Stop it with "tart stop ${policy.vm}".`);
      // Recorded before the clone runs: a clone that fails half-way is still cleaned up by the undo.
      ctx.state.snapshot = snapshot;
      await mustRun(ctx, cmd('tart', 'clone', policy.vm, snapshot), 'Check the free disk space and "tart list".');
      updateRecords(ctx.stateDir, (r) => {
        r.snapshots = r.snapshots.filter((s) => s.name !== snapshot);
        r.snapshots.push({ name: snapshot, vm: policy.vm, takenAt: new Date(now()).toISOString(), policySha256: policy.source.sha256 });
      });
    },
    async undo(ctx) {
      const snapshot = ctx.state.snapshot;
      if (snapshot === undefined) return;
      // A completed enforce taken down (--down) keeps its snapshot: it is the rollback point.
      // Only an enforce that failed (or never finished) deletes the clone it made.
      if (ctx.state.complete) {
        ctx.state.snapshot = undefined;
        return;
      }
      const vms = await listVms(ctx.runner);
      if (typeof vms === 'string') throw new StepError(vms);
      if (vms.some((v) => v.name === snapshot)) await mustRun(ctx, cmd('tart', 'delete', snapshot));
      updateRecordsOrSay(ctx.stateDir, ctx.log, (r) => {
        r.snapshots = r.snapshots.filter((s) => s.name !== snapshot);
      });
      ctx.state.snapshot = undefined;
    },
  };
}

// The last step: deletes the VM's own snapshots beyond the newest `keep`. It never fails the
// enforce (a snapshot left over is no risk); what it could not delete, it says.
export function pruneSnapshotsStep(policy: Policy, keep: number): Step {
  return {
    id: 'prune-snapshots',
    describe: `Delete the snapshots of "${policy.vm}" beyond the newest ${keep}`,
    commands: () => [TART_LIST, cmd('tart', 'delete', PLACEHOLDER_OLDER)],
    ...noUndo,
    async run(ctx) {
      const vms = await listVms(ctx.runner);
      if (typeof vms === 'string') {
        ctx.log(`could not list the snapshots to prune: ${vms}`);
        return;
      }
      const own = ownSnapshots(policy.vm, vms.map((v) => v.name));
      for (const old of own.slice(0, Math.max(0, own.length - keep))) {
        const r = await ctx.runner.run(cmd('tart', 'delete', old));
        if (r.exitCode !== 0) {
          ctx.log(`could not delete the old snapshot "${old}": ${r.stderr.trim() || `exit ${r.exitCode}`}`);
          continue;
        }
        updateRecordsOrSay(ctx.stateDir, ctx.log, (rec) => {
          rec.snapshots = rec.snapshots.filter((s) => s.name !== old);
        });
      }
    },
  };
}
