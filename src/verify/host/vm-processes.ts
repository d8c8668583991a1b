// The running VM as the host sees it: the `tart run` process for the policy's VM must carry exactly
// the compiled arguments (the `--dir` set, --no-clipboard, --no-audio, softnet closed), and the
// softnet it spawned exactly the compiled allow/block flags. Someone who starts the VM by hand, or
// adds a share or `--net-softnet-allow=0.0.0.0/0`, widens the cage behind the policy's back.

import type { Policy } from '../../compiler/policy.ts';
import type { EnforceArtifacts } from '../../compiler/enforce-artifacts.ts';
import type { ProbeResult } from '../inside/result.ts';
import type { RunCommand } from '../../host/run-command.ts';
import { hostRow } from './host-result.ts';

export interface PsEntry {
  pid: number;
  ppid: number;
  /** The command line as ps prints it: arguments joined by spaces. */
  args: string;
}

// `ps -axww -o pid=,ppid=,args=` (BSD and procps alike): "  PID  PPID ARGS…" per line.
export function parsePs(text: string): PsEntry[] {
  const out: PsEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*\S)\s*$/.exec(line);
    if (m) out.push({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! });
  }
  return out;
}

// The arguments ps joined with spaces, compared with the expected list without splitting (paths may
// hold spaces): each expected argument is taken out once where it stands between spaces; what is
// left over is extra.
export function compareJoinedArgs(joined: string, expected: readonly string[]): { missing: string[]; extra: string } {
  let rest = ` ${joined} `;
  const missing: string[] = [];
  for (const arg of [...expected].sort((a, b) => b.length - a.length)) {
    const at = rest.indexOf(` ${arg} `);
    if (at < 0) missing.push(arg);
    else rest = `${rest.slice(0, at)} ${rest.slice(at + arg.length + 2)}`;
  }
  return { missing: expected.filter((e) => missing.includes(e)), extra: rest.trim().replace(/\s+/g, ' ') };
}

const TART = /^(?:\S*\/)?tart run /;
const SOFTNET = /^(?:\S*\/)?softnet(?:\s|$)/;
/** softnet flags tart adds per run, with their values: not part of the policy. */
const SOFTNET_PER_RUN = new Set(['--vm-fd', '--vm-mac-address']);

// Rows: the tart process and its softnet, each as compiled.
export async function checkVmProcesses(policy: Policy, artifacts: EnforceArtifacts, run: RunCommand): Promise<ProbeResult[]> {
  const t0 = performance.now();
  const ps = await run(['ps', '-axww', '-o', 'pid=,ppid=,args=']);
  if (ps.exitCode !== 0) return [hostRow(`tart run ${policy.vm}`, 'as compiled', 'UNKNOWN', false, performance.now() - t0, `ps failed (${ps.stderr.trim()}): the VM's process arguments are unchecked`)];
  const entries = parsePs(ps.stdout);
  const expected = artifacts.tartRunArgs;
  const tarts = entries.filter((e) => TART.test(e.args) && e.args.endsWith(` ${policy.vm}`));
  const probe = `tart run ${policy.vm}: arguments`;
  if (tarts.length === 0) {
    return [hostRow(probe, 'as compiled', 'NOT RUNNING', false, performance.now() - t0, `no "tart run … ${policy.vm}" process is running: the VM is not up, or was started some other way`)];
  }
  const rows: ProbeResult[] = [];
  for (const t of tarts) {
    const { missing, extra } = compareJoinedArgs(t.args.replace(/^\S*?tart /, ''), expected);
    const ok = missing.length === 0 && extra === '';
    const audio = missing.includes('--no-audio') ? ' (without --no-audio the VM hears the host\'s microphone)' : '';
    rows.push(hostRow(probe, 'as compiled', ok ? `as compiled (pid ${t.pid})` : `DIFFERS (pid ${t.pid})`, ok, performance.now() - t0,
      `tart[${t.pid}] runs "${policy.vm}" with other arguments than compiled:${missing.length ? ` missing ${missing.map((m) => `"${m}"`).join(', ')}` : ''}${extra ? ` extra "${extra}"` : ''}${audio}`));
    rows.push(checkSoftnet(policy, entries, t, performance.now() - t0));
  }
  return rows;
}

// The softnet under this tart (possibly re-executed through sudo): exactly --allow GW/32 --block 0.0.0.0/0.
function checkSoftnet(policy: Policy, entries: readonly PsEntry[], tart: PsEntry, ms: number): ProbeResult {
  const below = new Set([tart.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const e of entries) if (below.has(e.ppid) && !below.has(e.pid)) { below.add(e.pid); grew = true; }
  }
  const softnets = entries.filter((e) => e.pid !== tart.pid && below.has(e.pid) && SOFTNET.test(e.args));
  const probe = `softnet of tart[${tart.pid}]: flags`;
  const want = `--allow ${policy.network.gateway}/32 --block 0.0.0.0/0`;
  if (softnets.length === 0) return hostRow(probe, want, 'NOT FOUND', false, ms, `tart[${tart.pid}] has no softnet below it: the VM does not run behind softnet's filter`);
  for (const s of softnets) {
    const tokens = s.args.split(/\s+/).slice(1);
    const flags: string[] = [];
    for (let i = 0; i < tokens.length; i++) {
      if (SOFTNET_PER_RUN.has(tokens[i]!)) i++;
      else if (tokens[i]!.startsWith('--') && tokens[i + 1] !== undefined && !tokens[i + 1]!.startsWith('--')) flags.push(`${tokens[i]} ${tokens[++i]}`);
      else flags.push(tokens[i]!);
    }
    const got = flags.sort().join(' ');
    const expected = [`--allow ${policy.network.gateway}/32`, '--block 0.0.0.0/0'].sort().join(' ');
    if (got !== expected) {
      return hostRow(probe, want, `DIFFERS (pid ${s.pid})`, false, ms, `softnet[${s.pid}] runs with "${flags.join(' ')}", not the compiled "${want}": softnet's filter is not the policy's`);
    }
  }
  return hostRow(probe, want, `as compiled (pid ${softnets.map((s) => s.pid).join(',')})`, true, ms);
}
