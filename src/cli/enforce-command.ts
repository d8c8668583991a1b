// `nanopolicy enforce`: apply a policy on the host all or nothing (pf on macOS, nft on Linux),
// remove it (--down), show the plan (--dry-run), or stay and watch it (--supervise).

import { Option, type Command } from 'commander';
import { EXIT, type Io } from './io.ts';
import type { SetExit } from './set-exit.ts';
import { UsageError } from './usage-error.ts';
import { reportDiagnostics } from './report-diagnostics.ts';
import type { Session } from '../enforce/session.ts';
import type { DownResult } from '../enforce/down.ts';
import { parseIpv4 } from '../net/ipv4.ts';
import type { Backend, ProxyState } from '../formats/enforce-state.ts';
import type { UndoFailure } from '../enforce/run-plan.ts';
import { shQuote } from '../host/command.ts';
import { POLICY_ARGUMENT_HELP, policyFile } from './default-policy.ts';

interface EnforceFlags {
  backend?: Backend;
  stateDir?: string;
  start: boolean;
  vmAddress?: string;
  wait: string;
  interval: string;
  dryRun?: boolean;
  down?: boolean;
  supervise?: boolean;
  home?: string;
  json?: boolean;
}

export function registerEnforceCommand(program: Command, io: Io, setExit: SetExit): void {
  program
    .command('enforce')
    .argument('[policy]', POLICY_ARGUMENT_HELP)
    .description('Apply a policy on this host, all or nothing: rules, VM, bridges. Undo it with --down.')
    .addOption(new Option('--backend <name>', 'pf (macOS, default there) or nft (Linux, default elsewhere; never starts the VM)').choices(['pf', 'nft']))
    .option('--state-dir <dir>', 'where pids, pf tokens and the lock live (default /var/run/nanopolicy/<vm> as root, else $XDG_RUNTIME_DIR/nanopolicy/<vm> or ~/.nanopolicy/run/<vm>)')
    .option('--no-start', 'pf: do not start the VM; print the tart command and wait for it')
    .option('--vm-address <ip>', "nft: the VM's address, to narrow the bridges' range= from the subnet to it")
    .option('--wait <seconds>', "how long to wait for the VM's interface and address (0 to 65535, as tart ip --wait)", '120')
    .option('--dry-run', 'print every command in order with its undo, and the rules diff; change nothing')
    .option('--down', 'stop the VM, then remove everything enforce applied for it (safe to run twice; a VM that cannot be stopped keeps its rules)')
    .option('--supervise', 'stay in the foreground: restart dead bridges, re-check the rules, re-resolve bridge names, tear down on VM exit or SIGINT/SIGTERM')
    .option('--interval <seconds>', 'with --supervise: seconds between checks', '10')
    .option('--home <dir>', 'folder "~" in mount paths stands for (default: your home)')
    .option('--json', 'print the outcome as one JSON line on stdout (with --supervise, one more when it ends); progress stays on stderr')
    .addHelpText(
      'after',
      `
Exit codes: 0 applied (or already in force: nothing changed), 3 a preflight check or a step failed
and everything was undone, or an earlier enforce is partly standing next to a running VM (the
commands that fix it are printed), 4 an undo failed too, or --down could not remove (or confirm
the removal of) a part (the concrete manual commands left are printed, and what to look up where
a value is unknown), 1 the policy has errors (nothing was changed), 64 bad command line. An earlier
enforce that left nothing standing (a reboot) is a fresh start; its pf tokens from before the boot
are void and dropped, not released.

Examples:
  $ nanopolicy enforce policy/nanoclaw.policy --dry-run
  $ nanopolicy enforce policy/nanoclaw.policy
  $ nanopolicy enforce --down policy/nanoclaw.policy
  $ sudo nanopolicy enforce --backend nft --vm-address 192.168.64.2 policy/nanoclaw.policy`,
    )
    .action(async (given: string | undefined, flags: EnforceFlags) => {
      const file = policyFile(given, io);
      setExit(await runEnforce(file, flags, io));
    });
}

// --wait is handed to `tart ip --wait`, a UInt16 in tart (IP.swift): refuse what tart would.
function waitSecondsFrom(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65_535) throw new UsageError(`--wait takes a whole number of seconds from 0 to 65535 (as "tart ip --wait" does), not "${text}".`);
  return Number(text);
}

function seconds(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n > 86_400) throw new UsageError(`${flag} takes a number of seconds between 1 and 86400, not "${text}".`);
  return n;
}

// What an enforce run came to: printed for a person, or as one JSON record with --json.
interface EnforceRecord {
  ok: boolean;
  result: 'applied' | 'unchanged' | 'down' | 'dry-run' | 'policy-errors' | 'locked' | 'stale' | 'preflight' | 'failed' | 'undo-failed' | 'supervision-ended' | 'adopted' | 'failed-closed';
  vm?: string;
  rules?: string;
  stateDir?: string;
  applied?: {
    iface?: string;
    vmAddress?: string;
    tokens: string[];
    bridges: Array<{ name: string; pid: number; listen: number; range: string }>;
    proxy?: { pid: number; listen: { host: string; port: number }; allowClients: string[]; auditLog: string };
  };
  problems?: Array<{ check: string; message: string; fix: string }>;
  failedStep?: string;
  error?: string;
  fix?: string;
  undone?: string[];
  /** Commands a person must still run after a failed undo. */
  manual?: Array<{ step: string; error: string; commands: string[]; lookUp?: string[] }>;
  /** stale: what of the earlier enforce still stands, and the commands that fix it, in order. */
  standing?: string[];
  commands?: string[];
  /** applied: an earlier state that no longer held was a fresh start, or was removed first. */
  earlier?: { how: 'fresh' | 'repaired'; reason: string; removed: string[]; voidTokens?: string[] };
  /** adopted (--supervise): why the earlier state no longer held, and what the supervisor repairs first. */
  adopted?: { reason: string; repairs: string[] };
  plan?: string;
  /** The policy's problems, for result "policy-errors". */
  diagnostics?: readonly import('../diagnostics/diagnostic.ts').Diagnostic[];
}

async function runEnforce(file: string, flags: EnforceFlags, io: Io): Promise<number> {
  const { code, record, text } = await enforceOutcome(file, flags, io);
  if (flags.json) io.stdout.write(`${JSON.stringify(record)}\n`);
  else text(io);
  return code;
}

type Outcome = { code: number; record: EnforceRecord; text: (io: Io) => void };

async function enforceOutcome(file: string, flags: EnforceFlags, io: Io): Promise<Outcome> {
  // Loaded when enforce runs, not at start-up: these pull in child_process, net and execa (issue 9).
  const [{ openSession }, { applyLocked, lockSession }, { downLocked }, { dryRun }, { superviseLocked }] = await Promise.all([
    import('../enforce/session.ts'),
    import('../enforce/apply.ts'),
    import('../enforce/down.ts'),
    import('../enforce/dry-run.ts'),
    import('../enforce/supervise.ts'),
  ]);
  const backend: Backend = flags.backend ?? (process.platform === 'darwin' ? 'pf' : 'nft');
  const waitSeconds = waitSecondsFrom(flags.wait);
  const intervalSeconds = seconds(flags.interval, '--interval');
  if ([flags.dryRun, flags.down, flags.supervise].filter(Boolean).length > 1) {
    throw new UsageError('--dry-run, --down and --supervise cannot be combined.');
  }
  if (flags.vmAddress !== undefined && (backend !== 'nft' || !parseIpv4(flags.vmAddress).ok)) {
    throw new UsageError('--vm-address takes an IPv4 address and goes with --backend nft (pf asks tart for it).');
  }
  const log = (message: string) => io.stderr.write(`enforce: ${message}\n`);
  const opened = await openSession({
    policyFile: file,
    backend,
    ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
    // --down stops a VM only if the state says enforce started it, whatever the flags now.
    start: backend === 'pf' && (flags.start || flags.down === true),
    ...(flags.vmAddress ? { vmAddress: flags.vmAddress } : {}),
    ...(flags.home ? { home: flags.home } : {}),
    waitSeconds,
    env: io.env,
    cwd: process.cwd(),
    log,
    scanShares: true,
  });
  if (!('session' in opened)) {
    return {
      code: EXIT.policy,
      record: { ok: false, result: 'policy-errors', diagnostics: opened.diagnostics },
      text: (out) => {
        reportDiagnostics(out, opened.diagnostics, file, opened.source);
        out.stderr.write('enforce: the policy has errors; nothing was changed.\n');
      },
    };
  }
  const { session } = opened;
  reportDiagnostics(io, session.diagnostics, file, undefined);
  const base = { vm: session.policy.vm, rules: session.plan.rulesName, stateDir: session.stateDir };
  if (flags.dryRun) {
    const { text: plan, problems } = await dryRun(session);
    return { code: EXIT.ok, record: { ok: true, result: 'dry-run', ...base, plan, problems }, text: (out) => out.stdout.write(plan) };
  }

  const lock = lockSession(session);
  if ('kind' in lock) {
    return {
      code: EXIT.enforceFailed,
      record: { ok: false, result: 'locked', ...base, error: lock.message },
      text: (out) => out.stderr.write(`enforce: ${lock.message}; wait for it to finish, or stop it.\n`),
    };
  }
  // Tear down on SIGINT/SIGTERM only while supervising; a plain enforce finishes its plan (or its
  // rollback) first, since stopping half-way is exactly what all-or-nothing forbids.
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  try {
    if (flags.down) return downOutcome(session, base, await downLocked(session));
    const result = await applyLocked(session, { supervise: flags.supervise === true });
    switch (result.kind) {
      case 'locked':
        return { code: EXIT.enforceFailed, record: { ok: false, result: 'locked', ...base, error: result.message }, text: (out) => out.stderr.write(`enforce: ${result.message}\n`) };
      case 'stale': {
        const commands = [enforceLine(file, flags, ['--down']), enforceLine(file, flags, [])];
        const fix = commands.join(' && ');
        return {
          code: EXIT.enforceFailed,
          record: { ok: false, result: 'stale', ...base, error: result.reason, standing: result.standing, fix, commands },
          text: (out) =>
            out.stderr.write(
              `enforce: an earlier enforce of "${session.policy.vm}" is recorded in ${session.stateDir} but no longer holds: ${result.reason}.\n` +
                (result.standing.length ? `  still standing: ${result.standing.join('; ')}\n` : '') +
                `  fix (--down stops the VM first, then removes the rules): ${commands.join('\n       ')}\n  nothing was changed.\n`,
            ),
        };
      }
      case 'preflight':
        return {
          code: EXIT.enforceFailed,
          record: { ok: false, result: 'preflight', ...base, problems: result.problems },
          text: (out) => {
            for (const p of result.problems) out.stderr.write(`enforce: preflight "${p.check}": ${p.message}\n  fix: ${p.fix}\n`);
            out.stderr.write(`enforce: ${result.problems.length} preflight problem${result.problems.length === 1 ? '' : 's'}; nothing was changed.\n`);
          },
        };
      case 'failed': {
        const o = result.outcome;
        const failed = { ...base, failedStep: o.failedStep, error: o.error, ...(o.fix ? { fix: o.fix } : {}), undone: o.undone };
        const head = (out: Io) => out.stderr.write(`enforce: step "${o.failedStep}" failed: ${o.error}\n${o.fix ? `  fix: ${o.fix}\n` : ''}`);
        if (o.undoFailures.length > 0) {
          return {
            code: EXIT.undoFailed,
            record: { ok: false, result: 'undo-failed', ...failed, manual: manualOf(o.undoFailures) },
            text: (out) => {
              head(out);
              writeUndoFailures(out, o.undoFailures);
            },
          };
        }
        return {
          code: EXIT.enforceFailed,
          record: { ok: false, result: 'failed', ...failed },
          text: (out) => {
            head(out);
            out.stderr.write(`enforce: rolled back ${o.undone.length} step${o.undone.length === 1 ? '' : 's'}; nothing is left changed.\n`);
          },
        };
      }
      case 'failed-closed': {
        // --supervise over a state it cannot repair: it took everything down rather than leave a
        // cage standing that nothing supervises (exit 3, like rules lost while supervising).
        const why = `the earlier enforce no longer holds (${result.reason}) and cannot be supervised as it is`;
        const down = downOutcome(session, base, result.down);
        return {
          code: down.code === EXIT.ok ? EXIT.enforceFailed : down.code,
          record: { ...down.record, ok: false, result: down.code === EXIT.ok ? 'failed-closed' : down.record.result, error: why },
          text: (out) => {
            out.stderr.write(`enforce: ${why}; took everything down.\n`);
            down.text(out);
          },
        };
      }
      case 'adopted':
      case 'unchanged':
      case 'applied': {
        const s = result.state;
        const applied = { ...(s.iface ? { iface: s.iface } : {}), ...(s.vmAddress ? { vmAddress: s.vmAddress } : {}), tokens: s.tokens, bridges: s.bridges.map((b) => ({ name: b.name, pid: b.pid, listen: b.listen, range: b.range })), ...(s.proxy ? { proxy: { pid: s.proxy.pid, listen: s.proxy.listen, allowClients: s.proxy.allowClients, auditLog: s.proxy.auditLog } } : {}) };
        const earlier = result.kind === 'applied' ? result.earlier : undefined;
        const head =
          (earlier === undefined
            ? ''
            : earlier.how === 'fresh'
              ? `enforce: the earlier enforce left nothing standing (${earlier.reason}): this was a fresh start.\n`
              : `enforce: the earlier enforce no longer held (${earlier.reason}); removed what was left of it (${earlier.removed.join('; ')}) first.\n`) +
          (earlier?.voidTokens ? `enforce: its pf reference token(s) ${earlier.voidTokens.join(' ')} were from before the last boot: void, dropped without "pfctl -X".\n` : '') +
          (result.kind === 'adopted'
            ? `enforce: the policy's rules are in force for "${s.vm}", but the earlier enforce no longer held (${result.reason}): supervising it, repairing ${result.repairs.join(', ') || 'nothing'} first.\n`
            : result.kind === 'unchanged'
            ? `enforce: the policy is already in force for "${s.vm}"; nothing changed.\n`
            : `enforce: the policy is in force for "${s.vm}" (${session.plan.rulesName}).\n`);
        const done: Outcome = {
          code: EXIT.ok,
          record: { ok: true, result: result.kind, ...base, applied, ...(earlier ? { earlier } : {}), ...(result.kind === 'adopted' ? { adopted: { reason: result.reason, repairs: result.repairs } } : {}) },
          text: (out) => out.stdout.write(head + summary(session, s)),
        };
        if (!flags.supervise) return done;
        // Supervising: say it is in force now (with --json, a first JSON line), then stay.
        if (flags.json) io.stdout.write(`${JSON.stringify(done.record)}\n`);
        else done.text(io);
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        const sup = await superviseLocked(session, s, { intervalMs: intervalSeconds * 1000, signal: abort.signal });
        const why = { stopped: 'told to stop', 'vm-exited': 'the VM exited', 'rules-lost': `the rules could not be restored (${sup.detail ?? ''})` }[sup.why];
        io.stderr.write(`enforce: supervision ended: ${why}; tearing down.\n`);
        const down = downOutcome(session, base, sup.down);
        const failedClosed = down.code === EXIT.ok && sup.why === 'rules-lost';
        return {
          code: failedClosed ? EXIT.enforceFailed : down.code,
          record: { ...down.record, ok: down.record.ok && !failedClosed, result: down.code === EXIT.ok ? 'supervision-ended' : down.record.result, error: why },
          text: down.text,
        };
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    lock.release();
  }
}

// The enforce command line a person re-runs, with the flags that pick the same VM, state and backend.
function enforceLine(file: string, flags: EnforceFlags, extra: string[]): string {
  const words = ['nanopolicy', 'enforce', ...extra, file];
  if (flags.backend) words.push('--backend', flags.backend);
  if (flags.stateDir) words.push('--state-dir', flags.stateDir);
  if (flags.home) words.push('--home', flags.home);
  if (extra.length === 0) {
    if (!flags.start) words.push('--no-start');
    if (flags.vmAddress) words.push('--vm-address', flags.vmAddress);
  }
  return words.map(shQuote).join(' ');
}

function summary(session: Session, s: { iface?: string; vmAddress?: string; tokens: string[]; bridges: Array<{ name: string; pid: number; listen: number; range: string }>; proxy?: ProxyState }): string {
  const lines = [
    `  rules:     ${session.plan.rulesName}${s.iface ? ` (interface ${s.iface})` : ''}`,
    ...(s.vmAddress ? [`  vm:        ${s.vmAddress}`] : []),
    ...(s.tokens.length ? [`  pf tokens: ${s.tokens.join(' ')}`] : []),
    ...s.bridges.map((b) => `  bridge:    ${b.name} port ${b.listen} pid ${b.pid} range=${b.range}`),
    ...(s.proxy ? [`  proxy:     ${s.proxy.listen.host}:${s.proxy.listen.port} pid ${s.proxy.pid} clients ${s.proxy.allowClients.join(',')} (audit log ${s.proxy.auditLog}; read it with "nanopolicy log")`] : []),
    `  state:     ${session.stateDir}`,
  ];
  return `${lines.join('\n')}\n`;
}

function downOutcome(session: Session, base: Pick<EnforceRecord, 'vm' | 'rules' | 'stateDir'>, down: DownResult): Outcome {
  if (down.failures.length > 0) {
    return {
      code: EXIT.undoFailed,
      record: { ok: false, result: 'undo-failed', ...base, manual: manualOf(down.failures) },
      text: (out) => writeUndoFailures(out, down.failures),
    };
  }
  const message = down.hadState
    ? `enforce: removed everything applied for "${session.policy.vm}".\n`
    : `enforce: nothing was recorded for "${session.policy.vm}"; made sure ${session.plan.rulesName} is gone.\n`;
  return { code: EXIT.ok, record: { ok: true, result: 'down', ...base }, text: (out) => out.stdout.write(message) };
}

function manualOf(failures: readonly UndoFailure[]): NonNullable<EnforceRecord['manual']> {
  return failures.map((f) => ({ step: f.step, error: f.error, commands: f.manual, ...(f.lookUp ? { lookUp: f.lookUp } : {}) }));
}

function writeUndoFailures(io: Io, failures: readonly UndoFailure[]): void {
  io.stderr.write('enforce: could not undo everything. Run these commands yourself:\n');
  for (const f of failures) {
    io.stderr.write(`  # ${f.step}: ${f.error}\n`);
    for (const m of f.manual) io.stderr.write(`  ${m}\n`);
    // Values no one recorded: what to look up instead of a command with a placeholder in it.
    for (const l of f.lookUp ?? []) io.stderr.write(`  # look up first — ${l}\n`);
  }
}
