// The macOS plan: pf anchor, pf reference token, the VM, its interface and address, the socat
// bridges, and a final check that vmnet did not disable pf or drop the anchor (tart #1018).

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Policy } from '../compiler/policy.ts';
import type { EnforceArtifacts } from '../compiler/enforce-artifacts.ts';
import { cmd, formatCommand, sudo, type Cmd } from '../host/command.ts';
import type { CmdResult } from '../host/command-runner.ts';
import { PFCTL, PF_VM_IF, type PfctlCommands } from '../compiler/emit/pfctl-commands.ts';
import { compareAnchor } from '../host/compare-anchor.ts';
import { interfaceFromIfconfig } from '../host/find-interface.ts';
import { isVmAddress } from './is-vm-address.ts';
import { anchorMissing, parseEnableToken, pfEnabled, tokenAlreadyReleased } from './parse-pf-output.ts';
import { loadServices, servicesFileFrom } from '../host/services-db.ts';
import { bridgeStep } from './bridge-step.ts';
import { proxyStep } from './proxy-step.ts';
import { firewallLogStep } from './firewall-log-step.ts';
import { pruneSnapshotsStep, snapshotStep } from './snapshot-step.ts';
import { loadedRulesPath } from '../formats/enforce-state.ts';
import { ensureVmStopped, tartStop } from './stop-vm.ts';
import { netmaskMatches, prefixFromIfconfig } from './interface-prefix.ts';
import { mustRun, noUndo, StepError, type Step, type StepContext } from './step.ts';

export interface PfPlanInput {
  policy: Policy;
  artifacts: EnforceArtifacts;
  /** Start the VM with `tart run` (false: --no-start, the owner starts it). */
  start: boolean;
  /** How long to wait for the VM's interface and address, in seconds. */
  waitSeconds: number;
  /** The clock snapshot names are taken from (tests fix it). */
  now?: () => Date;
}

export const PLACEHOLDER = { iface: '<vm_if>', vmAddress: '<vm-ip>', token: '<token>', pid: '<pid>' } as const;

// The pfctl commands, built from the emitter's exact argument lists (the sudoers file allows
// exactly those; they come compiled, in the artifacts), each run as `sudo -n /sbin/pfctl …`.
export function pfctlFor(pf: PfctlCommands) {
  const run = (argv: readonly string[], input?: string): Cmd => ({
    ...sudo(cmd(PFCTL, ...argv)),
    ...(input !== undefined ? { input, inputName: 'anchor.pf' } : {}),
  });
  return {
    load: (text: string, vmIf: string | undefined): Cmd =>
      run(vmIf === undefined ? pf.load : vmIf === PLACEHOLDER.iface ? withDefine(pf.load, vmIf) : pf.loadWithInterface(vmIf), text),
    flush: (): Cmd => run(pf.flush),
    show: (): Cmd => run(pf.showAnchorRules),
    killStates: (): Cmd => run(pf.killStates),
    enable: (): Cmd => run(pf.enable),
    // Drops only our reference; pf stops only if nobody else holds one. Never `pfctl -d`.
    release: (token: string): Cmd => run(token === PLACEHOLDER.token ? ['-X', token] : pf.release(token)),
    info: (): Cmd => run(pf.info),
    mainRules: (): Cmd => run(pf.showMainRules),
    appleAnchors: (): Cmd => run(pf.listAppleAnchors),
    rulesOf: (anchor: string): Cmd => run(pf.showRulesOf(anchor)),
  };
}
export type Pfctl = ReturnType<typeof pfctlFor>;

// For --dry-run only: the load command with a placeholder the emitter would (rightly) refuse.
function withDefine(load: readonly string[], vmIf: string): string[] {
  const at = load.indexOf('-f');
  return [...load.slice(0, at), '-D', `vm_if=${vmIf}`, ...load.slice(at)];
}

// The error mustRun would throw, for a result already in hand.
function commandFailed(c: Cmd, r: CmdResult): StepError {
  const detail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(0, 3).join(' / ');
  return new StepError(`"${formatCommand(c)}" failed (exit ${r.exitCode})${detail ? `: ${detail}` : ''}`);
}

// The macros the anchor is compared with: the interface once known, else the file's default.
function definesFor(iface: string | undefined): Record<string, string> {
  return iface === undefined ? {} : { vm_if: iface };
}

// Builds every step of the pf plan, in order.
export function planPf(input: PfPlanInput): Step[] {
  const { policy, artifacts } = input;
  const pf = pfctlFor(artifacts.pfctl);
  return [
    loadAnchor(pf, artifacts),
    killStates(pf, policy, 'kill-states'),
    enablePf(pf),
    checkAnchor(pf, artifacts),
    // The snapshot is of the stopped VM, taken under the loaded anchor and before it starts.
    ...(input.start && policy.snapshots ? [snapshotStep(policy, input.now)] : []),
    input.start ? startVm(policy, artifacts) : announceVm(policy, artifacts),
    findInterface(policy, input.waitSeconds),
    vmAddress(policy, input.waitSeconds),
    reloadAnchor(pf, artifacts),
    ...policy.bridges.map((b) => bridgeStep(b, (ctx) => `${ctx.state.vmAddress ?? PLACEHOLDER.vmAddress}/32`, artifacts, policy.network)),
    ...(policy.proxy ? [proxyStep(policy, (ctx) => `${ctx.state.vmAddress ?? PLACEHOLDER.vmAddress}/32`, artifacts)] : []),
    // tcpdump on pflog0 needs root: through sudo -n, as the sudoers file allows.
    firewallLogStep(policy, 'pf', true),
    recheckPf(pf, artifacts),
    ...(input.start && policy.snapshots ? [pruneSnapshotsStep(policy, policy.snapshots.keep)] : []),
  ];
}

// Loads the anchor before the VM exists, so it is caged from its first packet.
function loadAnchor(pf: Pfctl, artifacts: EnforceArtifacts): Step {
  return {
    id: 'load-anchor',
    describe: 'Load the pf anchor (before the VM exists)',
    commands: () => [pf.load(artifacts.anchor, undefined)],
    undoCommands: () => [pf.flush()],
    async run(ctx) {
      await loadAndRecord(ctx, pf, artifacts, undefined);
    },
    async undo(ctx) {
      await mustRun(ctx, pf.flush());
      ctx.state.rulesSha256 = undefined;
    },
  };
}

async function loadAndRecord(ctx: StepContext, pf: Pfctl, artifacts: EnforceArtifacts, vmIf: string | undefined): Promise<void> {
  await mustRun(ctx, pf.load(artifacts.anchor, vmIf), 'Run "pfctl -n -f anchor.pf" on the compiled anchor to see the syntax error.');
  ctx.state.rulesSha256 = rulesHash(artifacts.anchor, definesFor(vmIf));
  writeFileSync(loadedRulesPath(ctx.stateDir), artifacts.anchor, { mode: 0o600 });
}

// The hash recorded for loaded rules: the text and the macros it was loaded with.
export function rulesHash(text: string, defines: Record<string, string>): string {
  return createHash('sha256').update(text).update(JSON.stringify(defines)).digest('hex');
}

// States opened before the rules changed survive the change (domain.md §4b): kill them.
function killStates(pf: Pfctl, policy: Policy, id: string): Step {
  return {
    id,
    describe: `Kill pf states from the VM subnet ${policy.network.subnet}`,
    commands: () => [pf.killStates()],
    ...noUndo,
    async run(ctx) {
      await mustRun(ctx, pf.killStates());
    },
  };
}

// Enables pf with a reference token of our own, released on undo; pf stays on for others.
function enablePf(pf: Pfctl): Step {
  return {
    id: 'enable-pf',
    describe: 'Enable pf, holding a reference token',
    commands: () => [pf.enable()],
    undoCommands: (ctx) => (ctx.state.tokens.length ? ctx.state.tokens : [PLACEHOLDER.token]).map((t) => pf.release(t)),
    lookUp: () =>
      'no pf reference token is recorded: "sudo pfctl -s References" lists the references held; release one with "sudo pfctl -X TOKEN" only if you know it is this enforce\'s, and never run "pfctl -d" (it stops pf for everyone)',
    async run(ctx) {
      await enableAndRecord(ctx, pf);
    },
    async undo(ctx) {
      for (const token of [...ctx.state.tokens]) {
        const r = await ctx.runner.run(pf.release(token));
        if (r.exitCode !== 0 && tokenAlreadyReleased(r.stderr)) {
          // Someone ran `pfctl -d` (or the Mac rebooted) since: pf dropped every reference, ours too.
          ctx.log(`pf reference ${token} was already released (${r.stderr.trim().replace(/^pfctl: /, '')}): pf was disabled since, which drops every reference; nothing to give back`);
        } else if (r.exitCode !== 0) {
          throw commandFailed(pf.release(token), r);
        }
        ctx.state.tokens = ctx.state.tokens.filter((t) => t !== token);
      }
    },
  };
}

async function enableAndRecord(ctx: StepContext, pf: Pfctl): Promise<void> {
  const r = await mustRun(ctx, pf.enable());
  const token = parseEnableToken(`${r.stdout}\n${r.stderr}`);
  if (token === undefined) {
    throw new StepError(
      '"pfctl -E" printed no reference token, so enforce could not release pf later.',
      'Check "sudo pfctl -s References"; release a stray reference with "sudo pfctl -X <token>".',
    );
  }
  ctx.state.tokens.push(token);
}

// Reads the anchor back and compares its essential rules with the compiled ones.
export async function anchorProblem(ctx: StepContext, pf: Pfctl, artifacts: EnforceArtifacts, vmIf: string | undefined): Promise<string | undefined> {
  const r = await ctx.runner.run(pf.show());
  // An anchor that does not exist (flushed: pf drops an emptied anchor) is not an error to pfctl
  // -sr's caller here but a missing anchor: DIOCGETRULES fails with EINVAL.
  if (r.exitCode !== 0 && anchorMissing(r.stderr)) return 'the anchor is not loaded';
  if (r.exitCode !== 0) throw commandFailed(pf.show(), r);
  // Ports come back by name from the services file pfctl read (domain.md §9).
  const cmp = compareAnchor(artifacts.anchor, definesFor(vmIf), r.stdout, loadServices(servicesFileFrom(ctx.runner.env ?? {})));
  if (cmp.same) return undefined;
  const lines = [...cmp.missing.map((k) => `missing "${k}"`), ...cmp.extra.map((k) => `unexpected "${k}"`)];
  return lines.length ? lines.slice(0, 6).join('; ') : 'the anchor is empty';
}

function checkAnchor(pf: Pfctl, artifacts: EnforceArtifacts): Step {
  return {
    id: 'check-anchor',
    describe: 'Read the anchor back and compare it with the compiled rules',
    commands: () => [pf.show()],
    ...noUndo,
    async run(ctx) {
      const problem = await anchorProblem(ctx, pf, artifacts, undefined);
      if (problem) throw new StepError(`The loaded anchor differs from the compiled one: ${problem}.`);
    },
  };
}

function tartRun(artifacts: EnforceArtifacts): Cmd {
  return cmd('tart', ...artifacts.tartRunArgs);
}

/** How long `tart run` must stay up to count as started (it fails at once on a bad argument). */
const VM_SETTLE_MS = 500;

// Starts the VM in the background. Its undo stops the VM — or confirms it is stopped — before the
// rules go, and halts the undo if it cannot: a running VM never loses its anchor.
function startVm(policy: Policy, artifacts: EnforceArtifacts): Step {
  return {
    id: 'start-vm',
    describe: `Start the VM "${policy.vm}" with the compiled tart arguments`,
    commands: () => [tartRun(artifacts)],
    undoCommands: () => [tartStop(policy.vm)],
    haltUndoOnFailure: true,
    async run(ctx) {
      const pid = ctx.runner.spawn(tartRun(artifacts), join(ctx.stateDir, 'vm.log'));
      ctx.state.vmPid = pid;
      ctx.state.vmStarted = true;
      await ctx.runner.sleep(VM_SETTLE_MS);
      if (!ctx.runner.alive(pid)) throw new StepError('"tart run" exited at once.', `See ${join(ctx.stateDir, 'vm.log')}.`);
    },
    undo: (ctx) => ensureVmStopped(ctx, policy.vm),
  };
}

// --no-start: the owner starts the VM; enforce prints exactly how, then waits for it. The owner's
// VM is still stopped before the rules go (--down, a rollback, a stopping supervisor).
function announceVm(policy: Policy, artifacts: EnforceArtifacts): Step {
  return {
    id: 'await-vm',
    describe: 'Print the tart command for the owner to start the VM with',
    commands: () => [],
    undoCommands: () => [tartStop(policy.vm)],
    haltUndoOnFailure: true,
    async run(ctx) {
      ctx.log(`start the VM now with: ${formatCommand(tartRun(artifacts))}`);
    },
    undo: (ctx) => ensureVmStopped(ctx, policy.vm),
  };
}

// Waits for the gateway address to appear on an interface: vmnet creates it with the first VM.
function findInterface(policy: Policy, waitSeconds: number): Step {
  const ifconfig = cmd('ifconfig');
  return {
    id: 'find-interface',
    describe: `Wait for the interface holding the gateway ${policy.network.gateway}`,
    commands: () => [ifconfig],
    ...noUndo,
    async run(ctx) {
      const deadline = Date.now() + waitSeconds * 1000;
      // vmnet adds the bridge some time after `tart run` (or the owner's start): look again soon,
      // then less often, as the nft backend does; a fixed 1 s poll found it up to 1 s late.
      for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
        const r = await mustRun(ctx, ifconfig);
        const iface = interfaceFromIfconfig(r.stdout, policy.network.gateway);
        if (iface !== undefined) {
          // Only vmnet bridges: the sudoers lines allow -D vm_if=bridgeN and nothing else.
          if (!PF_VM_IF.test(iface)) throw new StepError(`The gateway ${policy.network.gateway} is on "${iface}", not on a vmnet bridge (bridgeN).`, 'Another interface holds the gateway address: change the policy\'s network line or that interface.');
          netmaskMatches(iface, prefixFromIfconfig(r.stdout, policy.network.gateway), policy.network.subnet);
          ctx.state.iface = iface;
          return;
        }
        if (ctx.state.vmStarted && ctx.state.vmPid !== undefined && !ctx.runner.alive(ctx.state.vmPid)) {
          throw new StepError('"tart run" exited before the VM network came up.', `See ${join(ctx.stateDir, 'vm.log')}.`);
        }
        if (Date.now() >= deadline) {
          throw new StepError(
            `No interface holds the gateway address ${policy.network.gateway} after ${waitSeconds} s.`,
            "Check that the VM uses softnet and that Shared_Net_Address matches the policy's gateway.",
          );
        }
        await ctx.runner.sleep(delay);
      }
    },
  };
}

/** Beyond `tart ip --wait N`'s own N seconds: its start-up and last lease poll. */
export const TART_IP_MARGIN_S = 30;

function vmAddress(policy: Policy, waitSeconds: number): Step {
  // tart polls the leases for up to waitSeconds itself (IP.swift): the runner must not cut it short.
  const ip: Cmd = { ...cmd('tart', 'ip', '--wait', String(waitSeconds), policy.vm), timeoutMs: (waitSeconds + TART_IP_MARGIN_S) * 1000 };
  return {
    id: 'vm-address',
    describe: "Ask tart for the VM's address",
    commands: () => [ip],
    ...noUndo,
    async run(ctx) {
      const r = await mustRun(ctx, ip);
      const address = r.stdout.trim();
      // The address narrows every bridge's range=: refuse anything outside the VM subnet.
      if (!isVmAddress(address, policy.network.subnet, policy.network.gateway)) {
        throw new StepError(`"tart ip" gave "${address}", which is not a VM address in ${policy.network.subnet}.`);
      }
      ctx.state.vmAddress = address;
    },
  };
}

// Fills the interface slot (IPv6 from the VM's interface), then kills states again and checks.
function reloadAnchor(pf: Pfctl, artifacts: EnforceArtifacts): Step {
  const vmIf = (ctx: StepContext) => ctx.state.iface ?? PLACEHOLDER.iface;
  return {
    id: 'reload-anchor',
    describe: 'Reload the anchor with the VM interface filled in, kill states, read it back',
    commands: (ctx) => [pf.load(artifacts.anchor, vmIf(ctx)), pf.killStates(), pf.show()],
    ...noUndo,
    async run(ctx) {
      await loadAndRecord(ctx, pf, artifacts, vmIf(ctx));
      await mustRun(ctx, pf.killStates());
      const problem = await anchorProblem(ctx, pf, artifacts, vmIf(ctx));
      if (problem) throw new StepError(`The reloaded anchor differs from the compiled one: ${problem}.`);
    },
  };
}

// Starting a vmnet VM may re-enable pf with Apple's own rules or reload it (tart #1018): check
// once the VM is up that pf is on and our anchor is there, and put it back once if not.
function recheckPf(pf: Pfctl, artifacts: EnforceArtifacts): Step {
  return {
    id: 'recheck-pf',
    describe: 'Check pf is still enabled and the anchor still loaded now that the VM runs',
    commands: () => [pf.info(), pf.show()],
    ...noUndo,
    async run(ctx) {
      for (const note of await ensurePfHolds(ctx, pf, artifacts)) ctx.log(note);
    },
  };
}

// pf enabled and the anchor as meant, repairing each once; used by recheck and by --supervise.
export async function ensurePfHolds(ctx: StepContext, pf: Pfctl, artifacts: EnforceArtifacts): Promise<string[]> {
  const repaired: string[] = [];
  const vmIf = ctx.state.iface;
  let enabledHere = false;
  const enable = async () => {
    // pf off while we held a reference: someone ran `pfctl -d`, which drops every reference. Our
    // old tokens are gone with it; releasing them later would only fail.
    ctx.state.tokens = [];
    await enableAndRecord(ctx, pf);
    enabledHere = true;
    repaired.push('pf was disabled; enabled it again');
  };
  const info = await mustRun(ctx, pf.info());
  if (!pfEnabled(info.stdout)) await enable();
  if ((await anchorProblem(ctx, pf, artifacts, vmIf)) !== undefined) {
    await loadAndRecord(ctx, pf, artifacts, vmIf);
    repaired.push('the anchor was gone or changed; reloaded it');
    const problem = await anchorProblem(ctx, pf, artifacts, vmIf);
    if (problem) throw new StepError(`The anchor does not hold after a reload: ${problem}.`);
  }
  // Read again only after a repair (a reload can take pf's state with it): when both held, a
  // second read a moment later shows nothing new, and --supervise runs this every interval.
  if (repaired.length > 0) {
    let again = await mustRun(ctx, pf.info());
    // pf found enabled at the first read but off now: it went off while we looked (vmnet reloading
    // pf flushes the anchor and drops the references together). Not yet repaired, so repair it once
    // rather than fail closed; off again right after our own enabling is what cannot be repaired.
    if (!pfEnabled(again.stdout) && !enabledHere) {
      await enable();
      again = await mustRun(ctx, pf.info());
    }
    if (!pfEnabled(again.stdout)) throw new StepError('pf is disabled again right after enabling it.');
  }
  return repaired;
}
