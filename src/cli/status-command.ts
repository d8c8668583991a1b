// `nanopolicy status`: what is in force now, on one screen.

import type { Command } from 'commander';
import type { CageStatus, ProcessStatus } from '../enforce/cage-status.ts';
import { EXIT, type Io } from './io.ts';
import type { SetExit } from './set-exit.ts';
import { addSessionOptions, openWorkflowSession, type WorkflowFlags } from './workflow-session.ts';
import { POLICY_ARGUMENT_HELP, policyFile } from './default-policy.ts';

export function registerStatusCommand(program: Command, io: Io, setExit: SetExit): void {
  addSessionOptions(
    program
      .command('status')
      .argument('[policy]', POLICY_ARGUMENT_HELP)
      .description("Show what is in force now: backend, rules, bridges with pids and connections, the VM's address, the last verify, the newest snapshots."),
  )
    .option('--json', 'print the status as JSON on stdout')
    .addHelpText(
      'after',
      `
status reads what enforce recorded and checks it against the host (rules loaded as compiled,
each bridge process alive); it changes nothing. It is not a proof: run "nanopolicy verify".

Exit codes: 0 in force and holding, 2 not in force or something does not hold (each is named),
1 the policy has errors, 64 bad command line.

Examples:
  $ nanopolicy status policy/nanoclaw.policy
  $ nanopolicy status policy/nanoclaw.policy --json | jq '.bridges'`,
    )
    .action(async (given: string | undefined, flags: WorkflowFlags) => {
      const file = policyFile(given, io);
      const session = await openWorkflowSession(file, flags, io, 'status');
      const { cageStatus } = await import('../enforce/cage-status.ts'); // loaded on use, not at start-up (issue 9)
      const status = await cageStatus(session);
      const next = nextStep(status, file);
      if (flags.json) io.stdout.write(`${JSON.stringify({ ...status, next }, null, 2)}\n`);
      else io.stdout.write(`${formatStatus(status)}  next:      ${next}\n`);
      setExit(status.inForce ? EXIT.ok : EXIT.verifyFailed);
    });
}

// The one command that moves the owner on: nothing in force is enforce's to fix (verify would only
// report every check failing); in force but unproven, or proven wrong, is verify's.
export function nextStep(s: CageStatus, file: string): string {
  const quoted = /^[A-Za-z0-9._/~+@-]+$/.test(file) ? file : `'${file.replace(/'/g, "'\\''")}'`;
  if (!s.inForce && s.backend === undefined) return `nanopolicy enforce ${quoted}   (nothing is in force)`;
  if (!s.inForce) return `nanopolicy enforce ${quoted}   (it repairs or refuses, naming each problem above)`;
  if (!s.lastVerify || !s.lastVerify.ok) return `nanopolicy verify ${quoted}`;
  return 'nothing to do; "nanopolicy verify" proves it again';
}

function proc(p: ProcessStatus): string {
  const conns = p.connections === undefined ? '' : `, ${p.connections} connection${p.connections === 1 ? '' : 's'}`;
  return `${p.name.padEnd(14)} :${String(p.listen).padEnd(6)} pid ${p.pid} ${p.alive ? 'running' : 'NOT RUNNING'}${conns}`;
}

export function formatStatus(s: CageStatus): string {
  const out = [`${s.vm}: ${s.inForce ? 'in force' : 'NOT in force'}   (state ${s.stateDir})`];
  if (s.backend) out.push(`  backend    ${s.backend}`);
  if (s.rules) out.push(`  rules      ${s.rules.name}: ${s.rules.loaded ? 'loaded as compiled' : `NOT as compiled (${s.rules.problem})`}${s.iface ? `, interface ${s.iface}` : ''}`);
  if (s.vmAddress) out.push(`  vm         ${s.vmAddress}`);
  s.bridges.forEach((b, i) => out.push(`  ${i === 0 ? 'bridges   ' : '          '} ${proc(b)}`));
  if (s.proxy) out.push(`  proxy      ${proc(s.proxy)}`);
  out.push(`  verify     ${s.lastVerify ? `${s.lastVerify.ok ? 'ok' : `FAILED (${s.lastVerify.wrong} wrong)`} at ${s.lastVerify.at}` : 'none recorded'}`);
  if (s.snapshotsProblem) out.push(`  snapshots  unknown (${s.snapshotsProblem})`);
  else if (s.snapshots.length === 0) out.push('  snapshots  none');
  s.snapshots.forEach((r, i) => out.push(`  ${i === 0 ? 'snapshots ' : '          '} ${r.name}  verify ${r.verify ? (r.verify.ok ? 'ok' : 'FAILED') : '-'}`));
  for (const p of s.problems) out.push(`  problem:   ${p}`);
  return `${out.join('\n')}\n`;
}
