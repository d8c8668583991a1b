// `nanopolicy rollback`: put one of enforce's snapshots back in the VM's place, all or nothing.

import type { Command } from 'commander';
import { EXIT, type Io } from './io.ts';
import type { SetExit } from './set-exit.ts';
import { addSessionOptions, openWorkflowSession, type WorkflowFlags } from './workflow-session.ts';
import { POLICY_ARGUMENT_HELP, policyFile } from './default-policy.ts';

interface RollbackFlags extends WorkflowFlags {
  to?: string;
  dryRun?: boolean;
  stop?: boolean;
}

export function registerRollbackCommand(program: Command, io: Io, setExit: SetExit): void {
  addSessionOptions(
    program
      .command('rollback')
      .argument('[policy]', POLICY_ARGUMENT_HELP)
      .description("Put a snapshot back in the VM's place: cage down, current VM set aside, snapshot cloned in, left stopped.")
      .option('--to <name>', 'the snapshot to restore (default: the newest; see "nanopolicy snapshots")')
      .option('--stop', 'stop the VM if it runs (without it, rollback refuses while the VM runs)')
      .option('--dry-run', 'print every step with its undo; change nothing'),
  )
    .option('--json', 'print the outcome as JSON on stdout')
    .addHelpText(
      'after',
      `
The order: the VM stops, then the cage comes down (bridges, rules, pf reference), the current VM
is renamed <vm>-np-replaced-<UTC time> (kept: nothing is lost, and a compromised VM stays for a
look), and the snapshot is cloned under the VM's name. A failure undoes the rename and the clone.
Then start it under the policy with "nanopolicy enforce".

Exit codes: 0 rolled back (or --dry-run), 3 a step failed and was undone, 4 an undo failed too
(the manual commands are printed), 1 the policy has errors, 64 bad command line.

Examples:
  $ nanopolicy rollback policy/nanoclaw.policy --dry-run
  $ nanopolicy rollback policy/nanoclaw.policy --stop
  $ nanopolicy rollback policy/nanoclaw.policy --to nanoclaw-vm-np-20261127T164820Z
  $ nanopolicy enforce policy/nanoclaw.policy            # start the restored VM, caged`,
    )
    .action(async (given: string | undefined, flags: RollbackFlags) => {
      const file = policyFile(given, io);
      setExit(await runRollback(file, flags, io));
    });
}

async function runRollback(file: string, flags: RollbackFlags, io: Io): Promise<number> {
  // Loaded when rollback runs, not at start-up (issue 9).
  const [{ lockSession }, { planRollback, renderRollbackPlan }, { runPlan }] = await Promise.all([
    import('../enforce/apply.ts'),
    import('../enforce/rollback-plan.ts'),
    import('../enforce/run-plan.ts'),
  ]);
  const session = await openWorkflowSession(file, flags, io, 'rollback');
  const { steps, progress } = planRollback({ session, stop: flags.stop === true, waitSeconds: 60, ...(flags.to ? { to: flags.to } : {}) });
  const ctx = session.context(session.fresh());
  if (flags.dryRun) {
    const text = renderRollbackPlan(steps, ctx, `Rollback plan for the VM "${session.policy.vm}" (state ${session.stateDir}):`);
    if (flags.json) io.stdout.write(`${JSON.stringify({ ok: true, result: 'dry-run', vm: session.policy.vm, plan: text })}\n`);
    else io.stdout.write(text);
    return EXIT.ok;
  }
  const lock = lockSession(session);
  if ('kind' in lock) {
    io.stderr.write(`rollback: ${lock.message}; wait for it to finish, or stop it.\n`);
    return EXIT.enforceFailed;
  }
  try {
    const outcome = await runPlan(steps, ctx, () => {});
    const base = { vm: session.policy.vm, snapshot: progress.snapshot, replaced: progress.replaced };
    if (outcome.ok) {
      if (flags.json) io.stdout.write(`${JSON.stringify({ ok: true, result: 'rolled-back', ...base })}\n`);
      else {
        io.stdout.write(`rollback: "${session.policy.vm}" is now the snapshot "${progress.snapshot}", stopped.\n`);
        io.stdout.write(`  the VM it replaced is kept as "${progress.replaced}" (tart delete it once you have looked).\n`);
        io.stdout.write(`  next: nanopolicy enforce ${file}\n`);
      }
      return EXIT.ok;
    }
    const manual = outcome.undoFailures.map((f) => ({ step: f.step, error: f.error, commands: f.manual, ...(f.lookUp ? { lookUp: f.lookUp } : {}) }));
    if (flags.json) {
      io.stdout.write(`${JSON.stringify({ ok: false, result: manual.length ? 'undo-failed' : 'failed', ...base, failedStep: outcome.failedStep, error: outcome.error, ...(outcome.fix ? { fix: outcome.fix } : {}), undone: outcome.undone, ...(manual.length ? { manual } : {}) })}\n`);
    } else {
      io.stderr.write(`rollback: step "${outcome.failedStep}" failed: ${outcome.error}\n${outcome.fix ? `  fix: ${outcome.fix}\n` : ''}`);
      if (manual.length) {
        io.stderr.write('rollback: could not undo everything. Run these commands yourself:\n');
        for (const m of manual) io.stderr.write(`  # ${m.step}: ${m.error}\n${m.commands.map((c) => `  ${c}\n`).join('')}${(m.lookUp ?? []).map((l) => `  # look up first — ${l}\n`).join('')}`);
      } else {
        io.stderr.write(`rollback: undid ${outcome.undone.length} step${outcome.undone.length === 1 ? '' : 's'}; "${session.policy.vm}" is the VM it was.\n`);
      }
    }
    return manual.length ? EXIT.undoFailed : EXIT.enforceFailed;
  } finally {
    lock.release();
  }
}
