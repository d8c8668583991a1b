// One socat bridge as a plan step: start it in its own process group, check it stayed up (socat
// exits at once when its port is taken), and on undo stop exactly that process.

import type { Bridge } from '../compiler/policy.ts';
import type { EnforceArtifacts } from './artifacts.ts';
import { cmd, type Cmd } from './command.ts';
import type { CommandRunner } from './command-runner.ts';
import { bridgeLogPath, type BridgeState } from './state.ts';
import { StepError, type Step, type StepContext } from './step.ts';

/** How long a fresh socat must stay alive to count as listening. */
export const BRIDGE_SETTLE_MS = 300;

// Builds the step for one bridge; `range` gives the socat range= once the VM's address is known.
export function bridgeStep(bridge: Bridge, range: (ctx: StepContext) => string, artifacts: EnforceArtifacts): Step {
  const start = (ctx: StepContext): Cmd => socatCmd(artifacts, bridge, range(ctx));
  return {
    id: `bridge:${bridge.name}`,
    describe: `Start the socat bridge "${bridge.name}" on port ${bridge.listen}`,
    commands: (ctx) => [start(ctx)],
    undoCommands: (ctx) => {
      const pid = ctx.state.bridges.find((b) => b.name === bridge.name)?.pid;
      return [cmd('kill', pid === undefined ? '<pid>' : String(pid))];
    },
    async run(ctx) {
      await startBridge(ctx, bridge, start(ctx), range(ctx));
    },
    async undo(ctx) {
      const entry = ctx.state.bridges.find((b) => b.name === bridge.name);
      if (entry === undefined) return;
      await stopBridge(ctx.runner, entry);
      ctx.state.bridges = ctx.state.bridges.filter((b) => b !== entry);
    },
  };
}

// The socat command for a bridge; for --dry-run a placeholder range (the emitter rightly refuses
// anything but a CIDR) is put in after the emitter built the command.
export function socatCmd(artifacts: EnforceArtifacts, bridge: Bridge, range: string): Cmd {
  if (!range.includes('<')) return cmd('socat', ...artifacts.socatArgs(bridge, range));
  const args = artifacts.socatArgs(bridge, '0.0.0.0/32').map((a) => a.replace('range=0.0.0.0/32', `range=${range}`));
  return cmd('socat', ...args);
}

// Starts one bridge and records it; fails if it does not stay up.
export async function startBridge(ctx: StepContext, bridge: Bridge, c: Cmd, range: string): Promise<BridgeState> {
  const log = bridgeLogPath(ctx.stateDir, bridge.name);
  const pid = ctx.runner.spawn(c, log);
  const entry: BridgeState = { name: bridge.name, pid, listen: bridge.listen, range, argv: [...c.args] };
  ctx.state.bridges = [...ctx.state.bridges.filter((b) => b.name !== bridge.name), entry];
  await ctx.runner.sleep(BRIDGE_SETTLE_MS);
  if (!ctx.runner.alive(pid)) {
    throw new StepError(
      `The bridge "${bridge.name}" exited right after starting (port ${bridge.listen} taken, or the gateway address missing?).`,
      `See ${log}; find who holds the port with "lsof -nP -iTCP:${bridge.listen} -sTCP:LISTEN".`,
    );
  }
  return entry;
}

// Whether a pid still runs the bridge we started, so a recycled pid is never signalled.
export async function isOurBridge(runner: CommandRunner, entry: BridgeState): Promise<boolean> {
  const line = await runner.commandLine(entry.pid);
  return line !== undefined && line.includes('socat') && line.includes(`-LISTEN:${entry.listen},`);
}

// Stops a bridge: TERM to its process group (socat's forked children too), then KILL.
export async function stopBridge(runner: CommandRunner, entry: BridgeState): Promise<void> {
  if (!(await isOurBridge(runner, entry))) return;
  runner.signal(entry.pid, 'SIGTERM');
  for (let i = 0; i < 20 && runner.alive(entry.pid); i++) await runner.sleep(100);
  if (runner.alive(entry.pid)) runner.signal(entry.pid, 'SIGKILL');
  for (let i = 0; i < 20 && runner.alive(entry.pid); i++) await runner.sleep(100);
  if (runner.alive(entry.pid)) throw new StepError(`The bridge "${entry.name}" (pid ${entry.pid}) does not stop.`);
}
