// One socat bridge as a plan step: resolve its target once and check the address (a name is never
// handed to socat, which would resolve it again per connection), start it in its own process group,
// check it came up (socat exits at once when its port is taken), and on undo stop exactly that
// process.

import type { Bridge, Network } from '../compiler/policy.ts';
import type { EnforceArtifacts } from '../compiler/enforce-artifacts.ts';
import { cmd, type Cmd } from '../host/command.ts';
import type { CommandRunner } from '../host/command-runner.ts';
import { portListening } from './port-listening.ts';
import { procCommandLine } from './proc-command-line.ts';
import { pollUntil, processGone } from './process-gone.ts';
import { hostAddresses, resolveTarget } from './resolve-target.ts';
import { bridgeLogPath, type BridgeState } from '../formats/enforce-state.ts';
import { StepError, type Step, type StepContext } from './step.ts';

/** Longest wait for a fresh socat when its port cannot be seen listening (no /proc: macOS). */
export const BRIDGE_SETTLE_MS = 300;

// Builds the step for one bridge; `range` gives the socat range= once the VM's address is known.
export function bridgeStep(bridge: Bridge, range: (ctx: StepContext) => string, artifacts: EnforceArtifacts, network: Network): Step {
  return {
    id: `bridge:${bridge.name}`,
    describe: `Resolve the target of the socat bridge "${bridge.name}" and start it on port ${bridge.listen}`,
    commands: (ctx) => [socatCmd(artifacts, bridge, range(ctx), ctx.state.bridges.find((b) => b.name === bridge.name)?.target)],
    undoCommands: (ctx) => {
      const pid = ctx.state.bridges.find((b) => b.name === bridge.name)?.pid;
      return [cmd('kill', pid === undefined ? '<pid>' : String(pid))];
    },
    lookUp: () => `no pid is recorded for the bridge "${bridge.name}": "lsof -nP -iTCP:${bridge.listen} -sTCP:LISTEN" shows what listens on its port; stop it only if that is socat`,
    async run(ctx) {
      const address = await checkedTarget(ctx, bridge, network);
      await startBridge(ctx, bridge, socatCmd(artifacts, bridge, range(ctx), address), range(ctx), address, network);
    },
    async undo(ctx) {
      const entry = ctx.state.bridges.find((b) => b.name === bridge.name);
      if (entry === undefined) return;
      await stopBridge(ctx.runner, entry);
      ctx.state.bridges = ctx.state.bridges.filter((b) => b !== entry);
    },
  };
}

// The address the bridge may connect to now, or a StepError naming the bridge and the address.
export async function checkedTarget(ctx: StepContext, bridge: Bridge, network: Network): Promise<string> {
  const r = await resolveTarget(bridge, { network }, ctx.lookup, hostAddresses());
  if (!r.ok) throw new StepError(r.message, 'Point the name at the service\'s LAN or internet address (its DNS, or the hosts file), or target the address itself.');
  return r.address;
}

// The socat command for a bridge connecting to `address` (the resolved target; undefined before
// it is known: --dry-run shows a placeholder). A placeholder range (the emitter rightly refuses
// anything but a CIDR) is put in after the emitter built the command.
export function socatCmd(artifacts: EnforceArtifacts, bridge: Bridge, range: string, address: string | undefined): Cmd {
  const target = address ?? (bridge.target.kind === 'dns' ? `<address of ${bridge.target.host}>` : bridge.target.host);
  const direct: Bridge = { ...bridge, target: { ...bridge.target, kind: target.includes(':') ? 'ipv6' : 'ipv4', host: target } };
  if (!range.includes('<')) return cmd('socat', ...artifacts.socatArgs(direct, range));
  const args = artifacts.socatArgs(direct, '0.0.0.0/32').map((a) => a.replace('range=0.0.0.0/32', `range=${range}`));
  return cmd('socat', ...args);
}

// Starts one bridge and records it; fails if it does not come up. Up means listening on the
// gateway (seen in /proc/net/tcp, polled with a short back-off), or — where that cannot be seen —
// still alive after BRIDGE_SETTLE_MS.
export async function startBridge(ctx: StepContext, bridge: Bridge, c: Cmd, range: string, target: string, network: Network): Promise<BridgeState> {
  const log = bridgeLogPath(ctx.stateDir, bridge.name);
  const pid = ctx.runner.spawn(c, log);
  const entry: BridgeState = { name: bridge.name, pid, listen: bridge.listen, range, target, argv: [...c.args] };
  ctx.state.bridges = [...ctx.state.bridges.filter((b) => b.name !== bridge.name), entry];
  let died = false;
  await pollUntil(ctx.runner, () => (died = processGone(ctx.runner, pid)) || portListening(network.gateway, bridge.listen) === true, BRIDGE_SETTLE_MS);
  if (died || processGone(ctx.runner, pid)) {
    throw new StepError(
      `The bridge "${bridge.name}" exited right after starting (port ${bridge.listen} taken, or the gateway address missing?).`,
      `See ${log}; find who holds the port with "lsof -nP -iTCP:${bridge.listen} -sTCP:LISTEN".`,
    );
  }
  return entry;
}

// Whether a pid still runs the bridge we started, so a recycled pid is never signalled. Reads
// /proc/<pid>/cmdline where there is one (Linux: no `ps` per bridge), else asks `ps`.
export async function isOurBridge(runner: CommandRunner, entry: BridgeState): Promise<boolean> {
  if (processGone(runner, entry.pid)) return false;
  const line = procCommandLine(entry.pid) ?? (await runner.commandLine(entry.pid));
  return line !== undefined && isBridgeCommand(line, entry);
}

// Whether a command line is the socat of this bridge (its listen port).
export function isBridgeCommand(line: string, entry: BridgeState): boolean {
  return line.includes('socat') && line.includes(`-LISTEN:${entry.listen},`);
}

// Stops a bridge: TERM to its process group (socat's forked children too), then KILL; polls for
// the exact condition (the pid gone, or a zombie) instead of sleeping.
export async function stopBridge(runner: CommandRunner, entry: BridgeState): Promise<void> {
  if (!(await isOurBridge(runner, entry))) {
    // Gone, or another program now: nothing of ours to stop. But a live pid whose command line
    // cannot be read (ps failed) may still be the bridge: that is not "stopped" (issue 24).
    if (!processGone(runner, entry.pid) && procCommandLine(entry.pid) === undefined && (await runner.commandLine(entry.pid)) === undefined && !processGone(runner, entry.pid)) {
      throw new StepError(`Could not tell whether pid ${entry.pid} is still the bridge "${entry.name}": its command line cannot be read.`, `Look with "ps -o command= -p ${entry.pid}"; if it is socat listening on port ${entry.listen}, stop it (kill ${entry.pid}).`);
    }
    return;
  }
  const gone = () => processGone(runner, entry.pid);
  runner.signal(entry.pid, 'SIGTERM');
  if (await pollUntil(runner, gone, 2000)) return;
  runner.signal(entry.pid, 'SIGKILL');
  if (await pollUntil(runner, gone, 2000)) return;
  throw new StepError(`The bridge "${entry.name}" (pid ${entry.pid}) does not stop.`);
}
