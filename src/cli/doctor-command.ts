// `nanopolicy doctor [POLICY]`: every check of the Mac, the cage and the guest, with a status and
// a fix; changes nothing.

import type { Command } from 'commander';
import { emitArtifacts } from '../compiler/emit/index.ts';
import { colors } from '../colors.ts';
import { checkSudoUser } from './check-compile-options.ts';
import { POLICY_ARGUMENT_HELP, policyFile } from './default-policy.ts';
import { EXIT, useColor, type Io } from './io.ts';
import type { SetExit } from './set-exit.ts';
import { addSessionOptions, openWorkflowSession, type WorkflowFlags } from './workflow-session.ts';

interface DoctorFlags extends WorkflowFlags {
  exec?: string;
  sudoUser?: string;
}

export function registerDoctorCommand(program: Command, io: Io, setExit: SetExit): void {
  addSessionOptions(
    program
      .command('doctor')
      .argument('[policy]', POLICY_ARGUMENT_HELP)
      .description('Check everything the policy needs, read-only: tools and versions, sudoers, softnet, pf, the boot job, the VM, the guest, the cage in force and the last verify; each with a fix.'),
  )
    .option('--exec <prefix>', 'command prefix that runs a program in the VM (default: "tart exec -i <vm>")')
    .option('--sudo-user <user>', 'the user or %group the installed sudoers is for, as given to compile (default %admin)')
    .option('--json', 'print the rows as JSON on stdout')
    .addHelpText(
      'after',
      `
doctor runs enforce's own preflight checks (the ones "enforce --dry-run" marks), then looks at what
a plan cannot: the sudoers file installed and equal to what compile writes, pf enabled, the boot
job loaded and naming a program that exists, the VM and its state, "guest check", the cage in
force (as "status" sees it) and the last verify. A check that could not run is "unknown", never ok.

Exit codes: 0 nothing failed (warnings allowed), 2 a check failed or could not tell, 1 the policy
has errors, 64 bad command line.

Examples:
  $ nanopolicy doctor
  $ nanopolicy doctor ~/.config/nanopolicy/nanoclaw.policy --json | jq '.rows[] | select(.status != "ok")'`,
    )
    .action(async (given: string | undefined, flags: DoctorFlags) => {
      if (flags.sudoUser !== undefined) checkSudoUser(flags.sudoUser);
      const file = policyFile(given, io);
      const session = await openWorkflowSession(file, flags, io, 'doctor');
      // Loaded on use, not at start-up (issue 9).
      const [{ runDoctor }, { cageStatus }, { tartExecPrefix }, { BAD }, { splitPrefix }] = await Promise.all([
        import('../doctor/doctor.ts'),
        import('../enforce/cage-status.ts'),
        import('../guest/guest-exec.ts'),
        import('../doctor/doctor-row.ts'),
        import('../verify/host/run-inside.ts'),
      ]);
      const status = await cageStatus(session);
      const viaTart = flags.exec === undefined;
      const prefix = viaTart ? tartExecPrefix(session.policy.vm) : splitPrefix(flags.exec!);
      const artifacts = emitArtifacts(session.policy, { ...(flags.sudoUser !== undefined ? { sudoUser: flags.sudoUser } : {}), ...(io.program !== undefined ? { program: io.program } : {}) });
      const rows = await runDoctor({ session, status, env: io.env, artifacts, guest: { exec: { prefix, runner: session.runner }, viaTart } });
      const count = (s: string) => rows.filter((r) => r.status === s).length;
      const failed = rows.some((r) => BAD.has(r.status));
      if (flags.json) {
        io.stdout.write(`${JSON.stringify({ ok: !failed, vm: session.policy.vm, backend: session.plan.backend, stateDir: session.stateDir, rows }, null, 2)}\n`);
      } else {
        const c = colors(useColor(io.stdout, io.env));
        io.stdout.write(`doctor for "${session.policy.vm}" (backend ${session.plan.backend}, state ${session.stateDir})\n`);
        for (const r of rows) {
          const mark = r.status === 'ok' ? c.green('ok     ') : r.status === 'skipped' ? c.dim('skipped') : r.status === 'warn' ? c.yellow('warn   ') : c.red(r.status.toUpperCase().padEnd(7));
          io.stdout.write(`  ${mark} ${r.what}: ${r.detail}\n`);
          if (r.fix && r.status !== 'ok' && r.status !== 'skipped') io.stdout.write(`          fix: ${r.fix}\n`);
        }
        io.stdout.write(`${count('ok')} ok, ${count('warn')} warning${count('warn') === 1 ? '' : 's'}, ${count('fail')} failed, ${count('unknown')} unknown${count('skipped') ? `, ${count('skipped')} skipped` : ''}\n`);
      }
      setExit(failed ? EXIT.verifyFailed : EXIT.ok);
    });
}
