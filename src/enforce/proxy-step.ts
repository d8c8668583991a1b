// The egress proxy as a plan step, like a bridge: write its config into the state directory
// (clients narrowed to the VM, the host's own addresses refused as destinations), start
// `node dist/proxy.js --config FILE` in its own process group, wait for its "listening" line,
// check it listens on the gateway and nowhere else, and on undo stop exactly that process.

import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Policy } from '../compiler/policy.ts';
import { parseLsof, parseSs } from '../host/listeners.ts';
import type { EnforceArtifacts } from '../compiler/enforce-artifacts.ts';
import { cmd, type Cmd } from '../host/command.ts';
import type { CommandRunner } from '../host/command-runner.ts';
import { proxyAuditPath, proxyConfigPath, proxyLogPath, type ProxyState } from '../formats/enforce-state.ts';
import { procCommandLine } from './proc-command-line.ts';
import { StepError, type Step, type StepContext } from './step.ts';

/** How long a fresh proxy has to print its "listening" line. */
export const PROXY_READY_MS = 5000;

// The proxy bundle next to the CLI bundle (dist/), or under the package root from src/.
export function proxyScript(): string {
  const candidates = [new URL('./proxy.js', import.meta.url), new URL('../../dist/proxy.js', import.meta.url)];
  for (const c of candidates) {
    const path = fileURLToPath(c);
    if (existsSync(path)) return path;
  }
  return fileURLToPath(candidates[1]!);
}

// The command that runs the proxy on a config file.
export function proxyCmd(config: string): Cmd {
  return cmd(process.execPath, proxyScript(), '--config', config);
}

// Every address of this host as a /32 or /128: an allowed name that resolves to one of them
// would turn the proxy into a door to the host's own services.
export function hostAddressNetworks(): string[] {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.add(`${a.address.replace(/%.*$/, '')}/${a.family === 'IPv4' ? 32 : 128}`);
  }
  return [...out].sort();
}

// Builds the step; `range` gives the clients the proxy accepts once the VM's address is known.
export function proxyStep(policy: Policy, range: (ctx: StepContext) => string, artifacts: EnforceArtifacts): Step {
  const proxy = policy.proxy!;
  const where = `${policy.network.gateway}:${proxy.listen}`;
  return {
    id: 'proxy',
    describe: `Start the egress proxy on ${where} for ${policy.egress.map((r) => r.name).join(', ')} (config and audit log in the state directory)`,
    commands: (ctx) => [proxyCmd(proxyConfigPath(ctx.stateDir))],
    undoCommands: (ctx) => [cmd('kill', ctx.state.proxy === undefined ? '<pid>' : String(ctx.state.proxy.pid))],
    lookUp: () => `no pid is recorded for the egress proxy: "lsof -nP -iTCP:${proxy.listen} -sTCP:LISTEN" shows what listens on its port; stop it only if that is nanopolicy's proxy`,
    async run(ctx) {
      await startProxy(ctx, policy, artifacts, range(ctx));
    },
    async undo(ctx) {
      if (ctx.state.proxy === undefined) return;
      await stopProxy(ctx.runner, ctx.state.proxy);
      ctx.state.proxy = undefined;
    },
  };
}

/** proxy.log past this size is moved to proxy.log.1 when a proxy starts (enforce, or the supervisor's restart). */
export const PROXY_LOG_ROTATE_BYTES = 1024 * 1024;

// The proxy's stderr goes to proxy.log for as long as it runs; each start that finds the file past
// PROXY_LOG_ROTATE_BYTES moves it to proxy.log.1 (replacing the one before), so a proxy restarted
// all year keeps two generations. (What the owner must act on is in the audit log too.)
export function rotateProxyLog(log: string): void {
  try {
    if (statSync(log).size > PROXY_LOG_ROTATE_BYTES) renameSync(log, `${log}.1`);
  } catch {
    // No log yet, or one that cannot be moved (written on): a rotation must not stop the proxy.
  }
}

// Writes the config, starts the proxy, records it, and fails unless it listens on the gateway only.
export async function startProxy(ctx: StepContext, policy: Policy, artifacts: EnforceArtifacts, clients: string): Promise<ProxyState> {
  if (!artifacts.proxyConfig || !policy.proxy) throw new StepError('The policy lists egress but no proxy configuration was built.');
  const config = proxyConfigPath(ctx.stateDir);
  const auditLog = proxyAuditPath(ctx.stateDir);
  const denyNetworks = [...new Set([policy.network.subnet, ...hostAddressNetworks()])];
  writeFileSync(config, artifacts.proxyConfig({ allowClients: [clients], denyNetworks, auditLog }), { mode: 0o600 });
  const log = proxyLogPath(ctx.stateDir);
  rotateProxyLog(log);
  const from = existsSync(log) ? statSync(log).size : 0;
  const c = proxyCmd(config);
  const pid = ctx.runner.spawn(c, log);
  const listen = { host: policy.network.gateway, port: policy.proxy.listen };
  const entry: ProxyState = { pid, listen, allowClients: [clients], config, auditLog, argv: [c.file, ...c.args] };
  ctx.state.proxy = entry;
  const ready = `listening ${listen.host}:${listen.port}`;
  for (let waited = 0; ; waited += 50) {
    const text = existsSync(log) ? readFileSync(log, 'utf8').slice(from) : '';
    if (text.includes(ready)) break;
    if (!ctx.runner.alive(pid) || waited >= PROXY_READY_MS) {
      const said = text.trim().split('\n').slice(-2).join(' / ');
      throw new StepError(
        `The egress proxy did not start on ${listen.host}:${listen.port}${said ? `: ${said}` : ''}.`,
        `See ${log}; find who holds the port with "lsof -nP -iTCP:${listen.port} -sTCP:LISTEN".`,
      );
    }
    await ctx.runner.sleep(50);
  }
  const wide = await listenersElsewhere(ctx.runner, pid, listen);
  if (wide.length > 0) {
    throw new StepError(`The egress proxy listens on ${wide.join(', ')}, not only on the gateway ${listen.host}: it would face the LAN.`);
  }
  return entry;
}

// The proxy's listening sockets on any address but the gateway ("ss" on Linux, "lsof" elsewhere).
async function listenersElsewhere(runner: CommandRunner, pid: number, listen: ProxyState['listen']): Promise<string[]> {
  const linux = process.platform === 'linux';
  const r = await runner.run(linux ? cmd('ss', '-ltnpH') : cmd('lsof', '-nP', '-a', '-p', String(pid), '-iTCP', '-sTCP:LISTEN', '-Fpcn'));
  if (r.exitCode !== 0) throw new StepError(`Cannot list listening sockets to check the proxy (${r.stderr.trim() || `exit ${r.exitCode}`}).`);
  const mine = (linux ? parseSs(r.stdout) : parseLsof(r.stdout)).filter((l) => l.pid === pid);
  if (!mine.some((l) => l.address === listen.host && l.port === listen.port)) return [`nothing on ${listen.host}:${listen.port}`];
  return mine.filter((l) => l.address !== listen.host).map((l) => `${l.address}:${l.port}`);
}

// Whether a pid still runs the proxy we started on this config, so a recycled pid is never signalled.
// Reads /proc/<pid>/cmdline where there is one (no `ps` fork), else asks `ps`.
export async function isOurProxy(runner: CommandRunner, entry: ProxyState): Promise<boolean> {
  if (!runner.alive(entry.pid)) return false;
  const line = procCommandLine(entry.pid) ?? (await runner.commandLine(entry.pid));
  return line !== undefined && isProxyCommand(line, entry);
}

// Whether a command line is the proxy started on this state's config.
export function isProxyCommand(line: string, entry: ProxyState): boolean {
  return line.includes('proxy.js') && line.includes(`--config ${entry.config}`);
}

// Stops the proxy: TERM (it closes its tunnels and the audit log), then KILL.
export async function stopProxy(runner: CommandRunner, entry: ProxyState): Promise<void> {
  if (!(await isOurProxy(runner, entry))) {
    // A live pid whose command line cannot be read may still be the proxy: not "stopped" (issue 24).
    if (runner.alive(entry.pid) && (await runner.commandLine(entry.pid)) === undefined && runner.alive(entry.pid)) {
      throw new StepError(`Could not tell whether pid ${entry.pid} is still the egress proxy: its command line cannot be read.`, `Look with "ps -o command= -p ${entry.pid}"; if it is nanopolicy's proxy.js, stop it (kill ${entry.pid}).`);
    }
    return;
  }
  runner.signal(entry.pid, 'SIGTERM');
  for (let i = 0; i < 30 && runner.alive(entry.pid); i++) await runner.sleep(100);
  if (runner.alive(entry.pid)) runner.signal(entry.pid, 'SIGKILL');
  for (let i = 0; i < 20 && runner.alive(entry.pid); i++) await runner.sleep(100);
  if (runner.alive(entry.pid)) throw new StepError(`The egress proxy (pid ${entry.pid}) does not stop.`);
}
