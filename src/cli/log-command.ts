// `nanopolicy log POLICY`: the egress proxy's audit log for a person — what did my agent try to
// reach, what got through, what was refused and why — merged with what the firewall refused from
// the VM (the collector's counts: "tried 203.0.113.10:443 directly 50×"). --follow keeps printing
// new decisions.

import { homeDir } from '../lazy-builtins.ts';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { colors, type Colors } from '../colors.ts';
import { compilePolicyFile } from '../compiler/compile.ts';
import { parsePolicy } from '../grammar/parse-policy.ts';
import type { VmStatement } from '../grammar/ast.ts';
import type { AuditRecord } from '../formats/proxy-config.ts';
import { defaultStateDir, firewallLogPath, proxyAuditPath } from '../formats/enforce-state.ts';
import { EXIT, useColor, type Io } from './io.ts';
import type { SetExit } from './set-exit.ts';
import { reportDiagnostics } from './report-diagnostics.ts';
import { readRecords } from '../verify/host/read-audit-log.ts';
import { policyFailure } from './command-failure.ts';
import { POLICY_ARGUMENT_HELP, policyFile } from './default-policy.ts';
import { AuditLogFollower } from '../formats/audit-log-follower.ts';
import { formatInjectRecord } from './format-inject-record.ts';

// The `vm` name of a policy that parses, whatever its checks say; undefined when it does not parse.
function vmNameOf(source: string | undefined, file: string): string | undefined {
  if (source === undefined) return undefined;
  const { ast, diagnostics } = parsePolicy(source, file);
  if (diagnostics.some((d) => d.severity === 'error')) return undefined;
  return ast.statements.find((s): s is VmStatement => s.kind === 'vm')?.name.value;
}

interface LogFlags {
  refused?: boolean;
  follow?: boolean;
  json?: boolean;
  stateDir?: string;
  interval: string;
  home?: string;
}

export function registerLogCommand(program: Command, io: Io, setExit: SetExit): void {
  program
    .command('log')
    .argument('[policy]', POLICY_ARGUMENT_HELP)
    .description("Print the egress proxy's audit log: every name the VM tried to reach, allowed or refused, and why.")
    .option('--refused', 'only the refused attempts')
    .option('--follow', 'keep printing new decisions as they happen (Ctrl-C stops)')
    .option('--json', 'print the records as JSON lines, exactly as the proxy wrote them')
    .option('--state-dir <dir>', 'the state directory enforce used (default: the same as enforce)')
    .option('--interval <ms>', 'with --follow: how often to look for new lines', '250')
    .option('--home <dir>', 'folder "~" in mount paths stands for (default: your home)')
    .addHelpText(
      'after',
      `
Exit codes: 0 printed (also when nothing was logged yet, and when the policy fails a check but
names its VM: the log is read anyway, with a warning), 1 the policy cannot be read or parsed,
64 bad command line.

Examples:
  $ nanopolicy log policy/nanoclaw.policy
  $ nanopolicy log policy/nanoclaw.policy --refused
  $ nanopolicy log policy/nanoclaw.policy --follow --json | jq .name`,
    )
    .action(async (given: string | undefined, flags: LogFlags) => {
      const file = policyFile(given, io);
      setExit(await runLog(file, flags, io));
    });
}

async function runLog(file: string, flags: LogFlags, io: Io): Promise<number> {
  const home = flags.home ?? io.env.HOME ?? homeDir();
  const outcome = await compilePolicyFile(file, { home, cwd: process.cwd() });
  // A policy that parses but fails a check (a secret file left readable by others — the very thing
  // the log may be reporting) still names its VM, which is all it takes to find the log.
  const vm = outcome.policy?.vm ?? vmNameOf(outcome.source, file);
  if (vm === undefined) throw policyFailure(file, outcome);
  if (!outcome.policy) {
    reportDiagnostics(io, outcome.diagnostics, file, outcome.source);
    io.stderr.write(`The policy has errors (above): enforce and verify will refuse it. Reading the log of "${vm}" anyway.\n`);
  }
  const stateDir = resolve(flags.stateDir ?? defaultStateDir(vm, io.env, process.getuid?.()));
  const path = proxyAuditPath(stateDir);
  const c = colors(useColor(io.stdout, io.env));
  const show = (records: AuditRecord[]) => {
    for (const r of records) {
      if (flags.refused && r.decision !== 'refused' && (r as { kind?: string }).kind !== 'inject-refused') continue;
      io.stdout.write(flags.json ? `${JSON.stringify(r)}\n` : `${formatRecord(r, c)}\n`);
    }
  };
  if (outcome.policy && !outcome.policy.proxy) io.stderr.write(`The policy for "${vm}" lists no egress, so no proxy runs; showing any log left in ${stateDir}.\n`);
  // The rotated part first: it holds the older lines. The firewall's records are merged in by time
  // (a record's time is when its first packet came).
  const older = readRecords(`${path}.1`, 0).records;
  const current = readRecords(path, 0);
  const firewallPath = firewallLogPath(stateDir);
  const firewall = readRecords(firewallPath, 0);
  const all = mergeByTime([...older, ...current.records], [...readRecords(`${firewallPath}.1`, 0).records, ...firewall.records]);
  show(all);
  if (!flags.follow) {
    if (!flags.json) io.stderr.write(all.length === 0 ? `Nothing logged yet in ${path}.\n` : `${summary(all)}\n`);
    return EXIT.ok;
  }
  const interval = Number(flags.interval);
  // Follows the files it read from, across rotation (the lines written just before it are not lost).
  const follower = new AuditLogFollower(path, current.offset);
  const firewallFollower = new AuditLogFollower(firewallPath, firewall.offset);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    while (!stop.signal.aborted) {
      await new Promise((r) => setTimeout(r, Number.isFinite(interval) && interval > 0 ? interval : 250));
      show(mergeByTime(follower.poll(), firewallFollower.poll()));
    }
  } finally {
    follower.close();
    firewallFollower.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return EXIT.ok;
}

// Two logs, each in time order, as one in time order (a stable merge: equal times keep the proxy first).
export function mergeByTime(a: readonly AuditRecord[], b: readonly AuditRecord[]): AuditRecord[] {
  const out: AuditRecord[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && String(a[i]!.time) <= String(b[j]!.time))) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

// One decision on one line: when, what, where to, and why when refused. A tunnel's "open" line
// says it began (its final line follows); a summary says how many refusals it stands for.
export function formatRecord(r: AuditRecord, c: Colors): string {
  const injected = formatInjectRecord(r, c);
  if (injected !== undefined) return injected;
  // The proxy records UTC; the line says so, since a Mac's clock shows local time (issue 25).
  const time = `${String(r.time).replace('T', ' ').replace(/\.\d+Z$|Z$/, '')} UTC`;
  if (r.door === 'firewall') {
    const last = r.until && r.until !== r.time ? `, last ${String(r.until).replace(/^.*T/, '').replace(/\.\d+Z$|Z$/, '')} UTC` : '';
    return `${c.dim(time)}  ${c.red('BLOCKED')}  ${'firewall'.padEnd(10)} ${printable(r.reason)}${c.dim(` (from ${printable(r.client)}${last})`)}`;
  }
  const what = `${r.name}:${r.port}`;
  const door = r.door && r.door !== 'connect' ? ` (${r.door})` : '';
  if (r.event === 'summary') {
    return `${c.dim(time)}  ${c.red('REFUSED')}  ${''.padEnd(10)} ${`×${r.count ?? '?'} from ${r.client}`.padEnd(34)}   ${r.reason}${door}`;
  }
  if (r.event === 'open') {
    return `${c.dim(time)}  ${c.green('opened ')}  ${(r.rule ?? '').padEnd(10)} ${what.padEnd(34)} → ${(r.address ?? '?').padEnd(15)}${door}`;
  }
  if (r.decision === 'allowed') {
    const traffic = `↑${bytes(r.bytesUp)} ↓${bytes(r.bytesDown)} in ${seconds(r.durationMs)}`;
    return `${c.dim(time)}  ${c.green('allowed')}  ${(r.rule ?? '').padEnd(10)} ${what.padEnd(34)} → ${(r.address ?? '?').padEnd(15)}  ${c.dim(traffic)}${door}`;
  }
  const sni = r.sni && r.sni !== r.name && !r.reason.includes(r.sni) ? ` (TLS name "${r.sni}")` : '';
  return `${c.dim(time)}  ${c.red('REFUSED')}  ${(r.rule ?? '').padEnd(10)} ${what.padEnd(34)}   ${r.reason}${sni}${door}`;
}

// "12 attempts: 9 allowed (claude 7, discord 2), 3 refused (evil.example:443 ×2, …)". An open
// record is not an attempt of its own (its final record counts it; a tunnel still open or cut by
// a crash has only the open one, and counts by it); a summary counts as the refusals it stands for.
export function summary(records: readonly AuditRecord[]): string {
  // The firewall's records count packets, not attempts through the proxy: they get their own part.
  const blocked = records.filter((r) => r.door === 'firewall');
  records = records.filter((r) => r.door !== 'firewall');
  const finished = new Set(records.filter((r) => r.event === undefined && r.decision === 'allowed').map((r) => `${r.time} ${r.client} ${r.name}:${r.port}`));
  const allowed = records.filter((r) => r.decision === 'allowed' && (r.event === undefined || !finished.has(`${r.time} ${r.client} ${r.name}:${r.port}`)));
  const refused = records.filter((r) => r.decision === 'refused' && r.event === undefined);
  const summarised = records.filter((r) => r.event === 'summary').reduce((n, r) => n + (r.count ?? 0), 0);
  const count = (keys: string[]) => {
    const m = new Map<string, number>();
    for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
    return [...m].sort((a, b) => b[1] - a[1]).map(([k, n]) => (n > 1 ? `${k} ×${n}` : k));
  };
  const total = allowed.length + refused.length + summarised;
  const parts = [`${total} attempt${total === 1 ? '' : 's'}: ${allowed.length} allowed`];
  if (allowed.length > 0) parts[0] += ` (${count(allowed.map((r) => r.rule ?? r.name)).join(', ')})`;
  parts.push(`${refused.length + summarised} refused`);
  if (refused.length > 0) parts[1] += ` (${count(refused.map((r) => `${r.name}:${r.port}`)).slice(0, 8).join(', ')}${summarised > 0 ? `, and ${summarised} summarised` : ''})`;
  else if (summarised > 0) parts[1] += ` (${summarised} summarised)`;
  if (blocked.length > 0) {
    const tries = new Map<string, number>();
    for (const r of blocked) if (r.name) tries.set(`${r.name}:${r.port}`, (tries.get(`${r.name}:${r.port}`) ?? 0) + (r.count ?? 1));
    const top = [...tries].sort((x, y) => y[1] - x[1]).slice(0, 5).map(([k, n]) => `${k} ×${n}`);
    parts.push(`and the firewall blocked ${blocked.reduce((n, r) => n + (r.count ?? 1), 0)} direct attempt(s)${top.length ? ` (${top.join(', ')})` : ''}`);
  }
  return parts.join(', ');
}

// A log file is only as trusted as its permissions: no control character (an escape sequence)
// reaches the terminal from it.
function printable(text: string): string {
  return String(text).replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
