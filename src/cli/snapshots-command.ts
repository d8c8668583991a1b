// `nanopolicy snapshots`: the VM's snapshots, newest first, with the verify result that followed.

import type { Command } from 'commander';
import { listSnapshots } from '../snapshots/list-snapshots.ts';
import { EXIT, type Io } from './io.ts';
import { CommandFailure } from './command-failure.ts';
import type { SetExit } from './set-exit.ts';
import { addSessionOptions, openWorkflowSession, type WorkflowFlags } from './workflow-session.ts';
import { POLICY_ARGUMENT_HELP, policyFile } from './default-policy.ts';

export function registerSnapshotsCommand(program: Command, io: Io, setExit: SetExit): void {
  addSessionOptions(
    program
      .command('snapshots')
      .argument('[policy]', POLICY_ARGUMENT_HELP)
      .description('List the snapshots enforce took of the VM ("snapshot keep N"), newest first, with the verify result of the run that followed.'),
  )
    .option('--json', 'print the list as JSON on stdout')
    .addHelpText(
      'after',
      `
Snapshots are the VMs named <vm>-np-<UTC time> in "tart list"; enforce takes one of the stopped
VM before each start and keeps the newest N. "verify" is the result of the last
"nanopolicy verify" while that enforce run was in force ("-" when none ran).

Exit codes: 0 listed, 1 the policy has errors or the records in the state directory cannot be
read (the file and the fix are named), 69 tart is missing or could not be asked, 64 bad command line.

Examples:
  $ nanopolicy snapshots policy/nanoclaw.policy
  $ nanopolicy snapshots policy/nanoclaw.policy --json | jq -r '.snapshots[0].name'
  $ nanopolicy rollback policy/nanoclaw.policy --to <name>`,
    )
    .action(async (given: string | undefined, flags: WorkflowFlags) => {
      const file = policyFile(given, io);
      const session = await openWorkflowSession(file, flags, io, 'snapshots');
      const rows = await listSnapshots(session.runner, session.policy.vm, session.stateDir);
      if (rows instanceof Error) throw new CommandFailure(rows.source === 'tart' ? EXIT.unavailable : EXIT.policy, `snapshots: ${rows.message.replace(/\.$/, '')}.`);
      if (flags.json) {
        io.stdout.write(`${JSON.stringify({ vm: session.policy.vm, keep: session.policy.snapshots?.keep ?? 0, snapshots: rows }, null, 2)}\n`);
        return setExit(EXIT.ok);
      }
      if (!session.policy.snapshots) io.stderr.write('snapshots: the policy has no "snapshot keep N" line: enforce takes no new snapshots.\n');
      if (rows.length === 0) io.stdout.write(`No snapshots of "${session.policy.vm}".\n`);
      else {
        io.stdout.write(`${'snapshot'.padEnd(session.policy.vm.length + 24)}  ${'taken (UTC)'.padEnd(20)}  verify after\n`);
        for (const r of rows) {
          const verify = r.verify ? `${r.verify.ok ? 'ok' : `FAILED (${r.verify.wrong} wrong)`} at ${r.verify.at.replace(/\.\d+Z$/, 'Z')}` : '-';
          io.stdout.write(`${r.name.padEnd(session.policy.vm.length + 24)}  ${r.takenAt.padEnd(20)}  ${verify}\n`);
        }
      }
      setExit(EXIT.ok);
    });
}
