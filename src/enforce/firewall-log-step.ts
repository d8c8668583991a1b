// The firewall-log collector as a plan step, like the proxy: start `node dist/firewall-log.js`
// (tcpdump on the firewall's log interface, counted into records beside the audit log) in its
// own process group, wait for its "collecting" line, record its pid; on undo stop exactly that
// process. So what the firewall refuses from the VM reaches `nanopolicy log --refused`.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Policy } from '../compiler/policy.ts';
import { anchorName } from '../compiler/policy.ts';
import { nflogGroup } from '../compiler/emit/nft-conf.ts';
import { cmd, type Cmd } from '../host/command.ts';
import type { CommandRunner } from '../host/command-runner.ts';
import { firewallCollectorLogPath, firewallLogPath, type Backend, type FirewallLogState } from '../formats/enforce-state.ts';
import { StepError, type Step, type StepContext } from './step.ts';

/** How long the collector has to say tcpdump listens. */
export const COLLECTOR_READY_MS = 5000;

// The collector bundle next to the CLI bundle (dist/), or under the package root from src/.
export function collectorScript(): string {
  const candidates = [new URL('./firewall-log.js', import.meta.url), new URL('../../dist/firewall-log.js', import.meta.url)];
  for (const c of candidates) {
    const path = fileURLToPath(c);
    if (existsSync(path)) return path;
  }
  return fileURLToPath(candidates[1]!);
}

// What tcpdump reads: the nft table's nflog group, or pf's log interface.
export function collectorSource(policy: Policy, backend: Backend): string {
  return backend === 'nft' ? `nflog:${nflogGroup(policy)}` : 'pflog0';
}

// The command that runs the collector for a policy and state directory.
export function collectorCmd(policy: Policy, backend: Backend, stateDir: string, useSudo: boolean): Cmd {
  return cmd(process.execPath, collectorScript(), '--source', collectorSource(policy, backend), '--subnet', policy.network.subnet,
    '--out', firewallLogPath(stateDir), ...(backend === 'pf' ? ['--anchor', anchorName(policy)] : []), ...(useSudo ? ['--sudo'] : []));
}

// Builds the step.
export function firewallLogStep(policy: Policy, backend: Backend, useSudo: boolean): Step {
  return {
    id: 'firewall-log',
    describe: `Collect what the firewall refuses from the VM (tcpdump on ${collectorSource(policy, backend)}) for "nanopolicy log --refused"`,
    commands: (ctx) => [collectorCmd(policy, backend, ctx.stateDir, useSudo)],
    undoCommands: (ctx) => [cmd('kill', ctx.state.firewallLog === undefined ? '<pid>' : String(ctx.state.firewallLog.pid))],
    async run(ctx) {
      await startCollector(ctx, policy, backend, useSudo);
    },
    async undo(ctx) {
      if (ctx.state.firewallLog === undefined) return;
      await stopCollector(ctx.runner, ctx.state.firewallLog);
      ctx.state.firewallLog = undefined;
    },
  };
}

// Starts the collector and records it; fails unless it says tcpdump listens.
export async function startCollector(ctx: StepContext, policy: Policy, backend: Backend, useSudo: boolean): Promise<FirewallLogState> {
  const c = collectorCmd(policy, backend, ctx.stateDir, useSudo);
  const log = firewallCollectorLogPath(ctx.stateDir);
  const from = existsSync(log) ? statSync(log).size : 0;
  const pid = ctx.runner.spawn(c, log);
  const source = collectorSource(policy, backend);
  const entry: FirewallLogState = { pid, source, out: firewallLogPath(ctx.stateDir), argv: [c.file, ...c.args] };
  ctx.state.firewallLog = entry;
  for (let waited = 0; ; waited += 50) {
    const text = existsSync(log) ? readFileSync(log, 'utf8').slice(from) : '';
    if (text.includes(`collecting ${source}`)) return entry;
    if (!ctx.runner.alive(pid) || waited >= COLLECTOR_READY_MS) {
      const said = text.trim().split('\n').slice(-2).join(' / ');
      if (ctx.runner.alive(pid)) ctx.runner.signal(pid, 'SIGKILL');
      throw new StepError(
        `The firewall-log collector did not start on ${source}${said ? `: ${said}` : ''}.`,
        `See ${log}; it needs tcpdump (Debian: apt-get install tcpdump)${backend === 'pf' ? ' and the sudoers line for it' : ''}.`,
      );
    }
    await ctx.runner.sleep(50);
  }
}

// Whether a pid still runs the collector we started, so a recycled pid is never signalled.
export async function isOurCollector(runner: CommandRunner, entry: FirewallLogState): Promise<boolean> {
  const line = await runner.commandLine(entry.pid);
  return line !== undefined && line.includes('firewall-log.js') && line.includes(`--out ${entry.out}`);
}

// Stops the collector: TERM (it writes its counts), then KILL.
export async function stopCollector(runner: CommandRunner, entry: FirewallLogState): Promise<void> {
  if (!(await isOurCollector(runner, entry))) return;
  runner.signal(entry.pid, 'SIGTERM');
  for (let i = 0; i < 30 && runner.alive(entry.pid); i++) await runner.sleep(100);
  if (runner.alive(entry.pid)) runner.signal(entry.pid, 'SIGKILL');
  for (let i = 0; i < 20 && runner.alive(entry.pid); i++) await runner.sleep(100);
  if (runner.alive(entry.pid)) throw new StepError(`The firewall-log collector (pid ${entry.pid}) does not stop.`);
}
