// `nanopolicy rollback`: put a snapshot back in the VM's place. The cage comes down in the safe
// order (the VM stops before the anchor goes), the current VM is set aside under
// <vm>-np-replaced-<UTC time> (nothing is lost, and a compromised VM stays for a look), and the
// snapshot is cloned into its place, left stopped for the next enforce. The steps run through
// enforce's runner: a failure undoes what was done, last first. Stopping the VM and taking the
// cage down are not undone: a stopped VM needs no cage, and enforce starts it under the policy.

import type { Policy } from '../compiler/policy.ts';
import { replacedName, snapshotTime, ownSnapshots } from '../snapshots/snapshot-names.ts';
import { listVms, TART_LIST, type TartVm } from '../host/tart-vms.ts';
import { cmd, formatCommand, type Cmd } from '../host/command.ts';
import { downLocked } from './down.ts';
import type { Session } from './session.ts';
import { mustRun, noUndo, StepError, type Step, type StepContext } from './step.ts';

export interface RollbackInput {
  session: Session;
  /** The snapshot to restore; undefined: the newest of the VM's own. */
  to?: string;
  /** Stop a running VM (else rollback refuses while it runs). */
  stop: boolean;
  now?: () => Date;
  /** How long to wait for the VM to stop, in seconds. */
  waitSeconds: number;
}

/** What the plan decided while it ran: shown in the result and used by the undos. */
export interface RollbackProgress {
  snapshot?: string;
  replaced: string;
}

// The steps, and the progress record they fill in.
export function planRollback(input: RollbackInput): { steps: Step[]; progress: RollbackProgress } {
  const { session } = input;
  const policy = session.policy;
  const progress: RollbackProgress = { replaced: replacedName(policy.vm, (input.now ?? (() => new Date()))()), ...(input.to ? { snapshot: input.to } : {}) };
  const snapshot = () => progress.snapshot ?? `${policy.vm}-np-<newest>`;
  return {
    progress,
    steps: [
      {
        id: 'check-rollback',
        describe: `Find the snapshot and check the VM "${policy.vm}" ${input.stop ? 'exists' : 'exists and is stopped'}`,
        commands: () => [TART_LIST],
        ...noUndo,
        async run(ctx) {
          const vms = await vmsOrFail(ctx);
          const vm = vms.find((v) => v.name === policy.vm);
          if (!vm) throw new StepError(`tart has no VM named "${policy.vm}".`, 'Run "tart list"; a VM set aside by an earlier rollback is named ' + `"${policy.vm}-np-replaced-…".`);
          if (vm.running && !input.stop) throw new StepError(`The VM "${policy.vm}" is running.`, 'Add --stop to stop it first (the cage comes down after it), or stop it yourself.');
          const own = ownSnapshots(policy.vm, vms.map((v) => v.name));
          if (input.to !== undefined) {
            if (snapshotTime(policy.vm, input.to) === undefined) throw new StepError(`"${input.to}" is not a snapshot of "${policy.vm}" (${policy.vm}-np-<UTC time>).`, `List them with "nanopolicy snapshots".`);
            if (!own.includes(input.to)) throw new StepError(`tart has no VM named "${input.to}".`, `List the snapshots with "nanopolicy snapshots".`);
          } else {
            const newest = own[own.length - 1];
            if (newest === undefined) throw new StepError(`"${policy.vm}" has no snapshot.`, 'Add "snapshot keep N" to the policy; enforce then takes one before each start.');
            progress.snapshot = newest;
          }
          if (vms.some((v) => v.name === progress.replaced)) throw new StepError(`A VM named "${progress.replaced}" exists already.`, 'Wait a second and run rollback again.');
        },
      },
      stopVm(policy, input),
      {
        id: 'cage-down',
        describe: 'Take the cage down (bridges, VM, rules, pf reference) from the recorded state',
        commands: () => [...session.plan.steps].reverse().flatMap((s) => s.undoCommands(session.context(session.fresh()))),
        ...noUndo,
        async run() {
          const down = await downLocked(session);
          if (down.failures.length > 0) {
            throw new StepError(
              `The cage did not come down completely: ${down.failures.map((f) => `${f.step}: ${f.error}`).join('; ')}.`,
              `Run these yourself, then rollback again: ${down.failures.flatMap((f) => f.manual).join('; ') || '(no command is known for sure)'}${down.failures.flatMap((f) => f.lookUp ?? []).map((l) => `; look up first — ${l}`).join('')}`,
            );
          }
        },
      },
      {
        id: 'set-aside',
        describe: `Set the current VM aside as "${progress.replaced}"`,
        commands: () => [cmd('tart', 'rename', policy.vm, progress.replaced)],
        undoCommands: () => [cmd('tart', 'rename', progress.replaced, policy.vm)],
        async run(ctx) {
          await mustRun(ctx, cmd('tart', 'rename', policy.vm, progress.replaced));
        },
        async undo(ctx) {
          const vms = await vmsOrFail(ctx);
          // Only when the rename happened and nothing took the name back since.
          if (vms.some((v) => v.name === progress.replaced) && !vms.some((v) => v.name === policy.vm)) {
            await mustRun(ctx, cmd('tart', 'rename', progress.replaced, policy.vm));
          }
        },
      },
      {
        id: 'restore-snapshot',
        describe: 'Clone the snapshot into the VM\'s place (left stopped for the next enforce)',
        commands: () => [cmd('tart', 'clone', snapshot(), policy.vm)],
        undoCommands: () => [cmd('tart', 'delete', policy.vm)],
        async run(ctx) {
          await mustRun(ctx, cmd('tart', 'clone', snapshot(), policy.vm), 'Check the free disk space and "tart list".');
        },
        async undo(ctx) {
          const vms = await vmsOrFail(ctx);
          // The VM under the policy's name is the clone only while the original is set aside:
          // never delete it otherwise.
          if (vms.some((v) => v.name === policy.vm) && vms.some((v) => v.name === progress.replaced)) {
            await mustRun(ctx, cmd('tart', 'delete', policy.vm));
          }
        },
      },
    ],
  };
}

// Stops a running VM before anything else: the VM must be down before its rules go.
function stopVm(policy: Policy, input: RollbackInput): Step {
  const stop = cmd('tart', 'stop', policy.vm);
  return {
    id: 'stop-vm',
    describe: `Stop the VM "${policy.vm}" if it runs (before the rules go)`,
    commands: () => (input.stop ? [stop] : []),
    ...noUndo,
    async run(ctx) {
      const vm = (await vmsOrFail(ctx)).find((v) => v.name === policy.vm);
      if (!vm?.running) return;
      await mustRun(ctx, stop);
      for (let waited = 0; ; waited += 1) {
        const again = (await vmsOrFail(ctx)).find((v) => v.name === policy.vm);
        if (!again?.running) return;
        if (waited >= input.waitSeconds) throw new StepError(`The VM "${policy.vm}" still runs ${input.waitSeconds} s after "tart stop".`);
        await ctx.runner.sleep(1000);
      }
    },
  };
}

async function vmsOrFail(ctx: StepContext): Promise<TartVm[]> {
  const vms = await listVms(ctx.runner);
  if (typeof vms === 'string') throw new StepError(vms);
  return vms;
}

// The plan as --dry-run prints it: each step with its commands and undo.
export function renderRollbackPlan(steps: readonly Step[], ctx: StepContext, title: string): string {
  const lines = [title, '', 'Steps (on a failure, the undos of the steps done so far run in reverse):'];
  steps.forEach((step, i) => {
    lines.push(`  ${i + 1}. ${step.id}: ${step.describe}`);
    const show = (label: string, cs: Cmd[]) => cs.forEach((c) => lines.push(`      ${label} ${formatCommand(c)}`));
    const run = step.commands(ctx);
    if (run.length === 0) lines.push('      run:  (nothing)');
    show('run: ', run);
    const undo = step.undoCommands(ctx);
    if (undo.length === 0) lines.push('      undo: (nothing to undo)');
    show('undo:', undo);
  });
  return `${lines.join('\n')}\n`;
}
