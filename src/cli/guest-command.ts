// `nanopolicy guest install` and `nanopolicy guest check`: set up the VM's side of the policy
// (hosts lines, the proxy environment, the proxy's CA when there is one) through `tart exec`, and
// check it, with Node and the guest agent that verify needs.

import type { Command } from 'commander';
import { homeDir } from '../lazy-builtins.ts';
import { compilePolicyFile } from '../compiler/compile.ts';
import { emitArtifacts } from '../compiler/emit/index.ts';
import { policyFailure } from './command-failure.ts';
import { POLICY_ARGUMENT_HELP, policyFile } from './default-policy.ts';
import { EXIT, useColor, type Io } from './io.ts';
import type { SetExit } from './set-exit.ts';
import { colors } from '../colors.ts';

interface GuestFlags {
  exec?: string;
  dryRun?: boolean;
  json?: boolean;
  home?: string;
}

export function registerGuestCommand(program: Command, io: Io, setExit: SetExit): void {
  const guest = program.command('guest').description("Set up and check the VM's side of the policy: hosts lines, the proxy environment, Node and the guest agent.");
  const common = (c: Command) =>
    c
      .argument('[policy]', POLICY_ARGUMENT_HELP)
      .option('--exec <prefix>', 'command prefix that runs a program in the VM (default: "tart exec -i <vm>")')
      .option('--home <dir>', 'folder "~" in mount paths stands for (default: your home)')
      .option('--json', 'print the steps as JSON on stdout');
  common(guest.command('install'))
    .description('Install, in the running VM, the hosts lines, the proxy environment for login shells and launchd jobs, and the proxy CA when compile emits one. Safe to run again.')
    .option('--dry-run', 'print every command it would run in the guest, and run none')
    .addHelpText(
      'after',
      `
Each file is read first and written only when it differs. In /etc/hosts and ~/.zprofile,
nanopolicy owns one marked block (# >>> nanopolicy <vm> … # <<< nanopolicy <vm> <<<) that is
replaced, never appended again; the rest of the file stays as it is. It writes
~/.config/nanopolicy/proxy.env and ~/Library/LaunchAgents/dev.nanopolicy.proxy-env.plist (loaded
at once, and at every login), and ~/.config/nanopolicy/proxy-ca.pem only when the compiled output
holds one. /etc/hosts is written through "sudo -n".

Exit codes: 0 installed (or already so), 1 the policy has errors, 69 the guest could not be
reached or a guest command failed (what ran before it stays done; run it again), 64 bad command line.

Examples:
  $ nanopolicy guest install --dry-run
  $ nanopolicy guest install ~/.config/nanopolicy/nanoclaw.policy
  $ nanopolicy guest install --exec "ip netns exec lab-vm"`,
    )
    .action(async (given: string | undefined, flags: GuestFlags) => setExit(await runGuestCommand('install', policyFile(given, io), flags, io)));
  common(guest.command('check'))
    .description('Check the VM\'s side: the guest agent answers, Node 20+ is there, and every file install writes is as this policy wants it.')
    .addHelpText(
      'after',
      `
Read-only. Exit codes: 0 all as the policy wants, 2 something is missing or differs (each is
named with its fix), 1 the policy has errors, 69 the guest could not be reached, 64 bad command line.

Examples:
  $ nanopolicy guest check
  $ nanopolicy guest check --json | jq '.steps[] | select(.status != "ok")'`,
    )
    .action(async (given: string | undefined, flags: GuestFlags) => setExit(await runGuestCommand('check', policyFile(given, io), flags, io)));
}

async function runGuestCommand(kind: 'install' | 'check', file: string, flags: GuestFlags, io: Io): Promise<number> {
  const outcome = await compilePolicyFile(file, { home: flags.home ?? io.env.HOME ?? homeDir(), cwd: process.cwd() });
  if (!outcome.policy) throw policyFailure(file, outcome);
  const policy = outcome.policy;
  // Loaded when used, not at start-up (issue 9): the runner pulls in execa.
  const [{ guestPlan }, { guestInstall, installCommands }, { guestCheck }, { tartExecPrefix, showGuestCommand }, { createRunner }, { FINE }, { splitPrefix }] = await Promise.all([
    import('../guest/guest-plan.ts'),
    import('../guest/guest-install.ts'),
    import('../guest/guest-check.ts'),
    import('../guest/guest-exec.ts'),
    import('../host/command-runner.ts'),
    import('../guest/guest-report.ts'),
    import('../verify/host/run-inside.ts'),
  ]);
  const plan = guestPlan(policy, emitArtifacts(policy));
  const viaTart = flags.exec === undefined;
  const prefix = viaTart ? tartExecPrefix(policy.vm) : splitPrefix(flags.exec!);
  const exec = { prefix, runner: createRunner(io.env) };
  const via = prefix.join(' ');
  if (flags.dryRun && kind === 'install') {
    const commands = installCommands(plan).map((c) => ({ what: c.what, command: showGuestCommand(exec, c) }));
    const inputs = plan.files.map((f) => ({ file: 'absolute' in f.path ? f.path.absolute : `~/${f.path.home}`, ...('block' in f.content ? { block: f.content.lines } : { whole: f.content.whole }) }));
    if (flags.json) io.stdout.write(`${JSON.stringify({ ok: true, result: 'dry-run', vm: policy.vm, via, commands, files: inputs, notes: plan.notes }, null, 2)}\n`);
    else {
      io.stdout.write(`guest install for "${policy.vm}" would run, through ${via} (each write only if the file differs):\n`);
      for (const c of commands) io.stdout.write(`  # ${c.what}\n  ${c.command}\n`);
      io.stdout.write('\nWhat it would put there:\n');
      for (const f of inputs) {
        io.stdout.write(`  ${f.file}${'block' in f ? ' (the nanopolicy block)' : ''}:\n`);
        const text = 'block' in f ? f.block!.join('\n') : f.whole!.trimEnd();
        io.stdout.write(`${(text || '(empty)').split('\n').map((l) => `    ${l}`).join('\n')}\n`);
      }
      for (const n of plan.notes) io.stdout.write(`note: ${n}\n`);
    }
    return EXIT.ok;
  }
  const report = kind === 'install' ? await guestInstall(plan, exec, viaTart) : await guestCheck(plan, exec, viaTart);
  const failed = report.steps.some((s) => s.status === 'failed');
  const allFine = report.steps.every((s) => FINE.has(s.status));
  const code = !report.reachable || failed ? EXIT.unavailable : kind === 'check' && !allFine ? EXIT.verifyFailed : EXIT.ok;
  if (flags.json) {
    io.stdout.write(`${JSON.stringify({ ok: code === EXIT.ok && allFine, vm: report.vm, via, reachable: report.reachable, steps: report.steps, notes: report.notes }, null, 2)}\n`);
    return code;
  }
  const c = colors(useColor(io.stdout, io.env));
  io.stdout.write(`guest ${kind} for "${report.vm}" through ${via}\n`);
  for (const s of report.steps) {
    const status = FINE.has(s.status) ? c.green(s.status.padEnd(10)) : c.red(s.status.toUpperCase().padEnd(10));
    io.stdout.write(`  ${status} ${s.what}: ${s.detail}\n`);
    if (s.fix && !FINE.has(s.status)) io.stdout.write(`             fix: ${s.fix}\n`);
  }
  for (const n of report.notes) io.stdout.write(`  note: ${n}\n`);
  return code;
}
