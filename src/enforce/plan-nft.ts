// The Linux plan: find the VM's interface by the gateway address, load the nft table atomically,
// kill conntrack states from the VM subnet (when conntrack is installed), start the socat bridges,
// and check the table is still there. The VM itself is never started here (--no-start implied).

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { Policy } from '../compiler/policy.ts';
import type { EnforceArtifacts } from '../compiler/enforce-artifacts.ts';
import { bridgeStep } from './bridge-step.ts';
import { proxyStep } from './proxy-step.ts';
import { firewallLogStep } from './firewall-log-step.ts';
import { cmd, sudo, type Cmd } from '../host/command.ts';
import { interfaceFromIpJson, safeInterfaceName } from '../host/find-interface.ts';
import { netmaskMatches, prefixFromIpJson } from './interface-prefix.ts';
import { tableProblem } from './nft-readback.ts';
import { PLACEHOLDER } from './plan-pf.ts';
import { loadedRulesPath } from '../formats/enforce-state.ts';
import { mustRun, noUndo, StepError, type Step, type StepContext } from './step.ts';

export interface NftPlanInput {
  policy: Policy;
  artifacts: EnforceArtifacts;
  waitSeconds: number;
  /** The VM's address when known (--vm-address): range= narrows to it; else the whole subnet. */
  vmAddress?: string;
  /** Run nft and conntrack through `sudo -n` (not root). */
  useSudo: boolean;
}

// The nft and conntrack commands, as pure functions.
export function nftFor(table: string, useSudo: boolean) {
  const priv = (c: Cmd): Cmd => (useSudo ? sudo(c) : c);
  return {
    load: (text: string): Cmd => ({ ...priv(cmd('nft', '-f', '-')), input: text, inputName: 'nft.conf' }),
    list: (): Cmd => priv(cmd('nft', '-j', 'list', 'table', 'inet', table)),
    remove: (): Cmd => priv(cmd('nft', 'delete', 'table', 'inet', table)),
    killStates: (subnet: string): Cmd => priv(cmd('conntrack', '-D', '-s', subnet)),
    addresses: (): Cmd => cmd('ip', '-j', 'addr', 'show'),
  };
}
export type Nft = ReturnType<typeof nftFor>;

// Builds every step of the nft plan, in order.
export function planNft(input: NftPlanInput): Step[] {
  const { policy, artifacts } = input;
  const nft = nftFor(artifacts.nftTable, input.useSudo);
  const range = input.vmAddress ? `${input.vmAddress}/32` : policy.network.subnet;
  return [
    findInterface(nft, policy, input.waitSeconds, input.vmAddress),
    loadTable(nft, artifacts),
    checkTable(nft, artifacts, 'check-table'),
    killStates(nft, policy),
    ...policy.bridges.map((b) => bridgeStep(b, () => range, artifacts, policy.network)),
    ...(policy.proxy ? [proxyStep(policy, () => range, artifacts)] : []),
    firewallLogStep(policy, 'nft', input.useSudo),
    checkTable(nft, artifacts, 'recheck-table'),
  ];
}

// The ruleset for an interface; before it is known (--dry-run) with a stand-in the emitter takes,
// shown as <vm_if>.
export function nftText(artifacts: EnforceArtifacts, iface: string | undefined): string {
  if (iface !== undefined && iface !== PLACEHOLDER.iface) return artifacts.nftRuleset(iface);
  return artifacts.nftRuleset('vm-if-unknown').replace('"vm-if-unknown"', `"${PLACEHOLDER.iface}"`);
}

// The hash recorded for a loaded ruleset.
export function nftRulesHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

// Waits for the interface holding the gateway: the owner's VM (or the lab) brings it up.
function findInterface(nft: Nft, policy: Policy, waitSeconds: number, vmAddress: string | undefined): Step {
  return {
    id: 'find-interface',
    describe: `Wait for the interface holding the gateway ${policy.network.gateway}`,
    commands: () => [nft.addresses()],
    ...noUndo,
    async run(ctx) {
      const deadline = Date.now() + waitSeconds * 1000;
      // The interface appears once the VM's network is up: look again soon, then less often.
      for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
        const r = await mustRun(ctx, nft.addresses());
        const iface = interfaceFromIpJson(r.stdout, policy.network.gateway);
        if (iface !== undefined) {
          if (!safeInterfaceName(iface)) throw new StepError(`The interface name "${iface}" is not a plain interface name.`);
          netmaskMatches(iface, prefixFromIpJson(r.stdout, policy.network.gateway), policy.network.subnet);
          ctx.state.iface = iface;
          if (vmAddress !== undefined) ctx.state.vmAddress = vmAddress;
          return;
        }
        if (Date.now() >= deadline) {
          throw new StepError(
            `No interface holds the gateway address ${policy.network.gateway} after ${waitSeconds} s.`,
            'Start the VM (or bring up its bridge/tap with the gateway address) first; enforce --backend nft never starts it.',
          );
        }
        await ctx.runner.sleep(delay);
      }
    },
  };
}

// Loads the whole table in one transaction (the file deletes and recreates it).
function loadTable(nft: Nft, artifacts: EnforceArtifacts): Step {
  const text = (ctx: StepContext) => nftText(artifacts, ctx.state.iface);
  return {
    id: 'load-table',
    describe: `Load the nft table "inet ${artifacts.nftTable}"`,
    commands: (ctx) => [nft.load(ctx.state.iface ? text(ctx) : '')],
    undoCommands: () => [nft.remove()],
    async run(ctx) {
      const ruleset = text(ctx);
      await mustRun(ctx, nft.load(ruleset), 'Run "nft -c -f nft.conf" on the compiled ruleset to see the error.');
      ctx.state.rulesSha256 = nftRulesHash(ruleset);
      writeFileSync(loadedRulesPath(ctx.stateDir), ruleset, { mode: 0o600 });
    },
    async undo(ctx) {
      await removeTable(ctx, nft);
      ctx.state.rulesSha256 = undefined;
    },
  };
}

// Deletes the table if it exists: safe to run twice. One command when it exists; only a failed
// delete asks whether the table was there at all. Only nft's own "no such table" is read as gone:
// a listing that failed for another reason (sudo refusing, nft missing) proves nothing, and a
// removal that cannot be confirmed is never reported done (issue 24).
export async function removeTable(ctx: StepContext, nft: Nft): Promise<void> {
  const removed = await ctx.runner.run(nft.remove());
  if (removed.exitCode === 0) return;
  const listed = await ctx.runner.run(nft.list());
  if (listed.exitCode !== 0 && tableMissing(listed.stderr)) return;
  if (listed.exitCode !== 0) {
    const why = (removed.stderr.trim() || listed.stderr.trim() || `exit ${listed.exitCode}`).split('\n')[0];
    throw new StepError(`Could not remove the nft table "${nft.remove().args.at(-1)}", nor tell whether it is still loaded: ${why}.`, 'Run enforce as root, or allow nft through sudo without a password (the compiled sudoers lines).');
  }
  await mustRun(ctx, nft.remove());
}

// nft's answer for a table that does not exist ("Error: No such file or directory; did you mean …").
export function tableMissing(stderr: string): boolean {
  return /No such file or directory/.test(stderr);
}

// Why the loaded table is not the one meant, or undefined.
export async function nftProblem(ctx: StepContext, nft: Nft, artifacts: EnforceArtifacts): Promise<string | undefined> {
  const r = await ctx.runner.run(nft.list());
  if (r.exitCode !== 0 && tableMissing(r.stderr)) return `the table "inet ${artifacts.nftTable}" is not loaded`;
  if (r.exitCode !== 0) return `the table "inet ${artifacts.nftTable}" could not be read (${r.stderr.trim().split('\n')[0] || `exit ${r.exitCode}`})`;
  return tableProblem(nftText(artifacts, ctx.state.iface), artifacts.nftTable, r.stdout);
}

function checkTable(nft: Nft, artifacts: EnforceArtifacts, id: string): Step {
  return {
    id,
    describe: 'Read the nft table back and compare its chains and rules with the compiled ruleset',
    commands: () => [nft.list()],
    ...noUndo,
    async run(ctx) {
      const problem = await nftProblem(ctx, nft, artifacts);
      if (problem) throw new StepError(`The loaded nft table differs from the compiled one: ${problem}.`);
    },
  };
}

// Connections opened before the table existed survive it in conntrack: kill them. conntrack is
// optional (not every host has it); without it, only connections opened from now on are filtered.
function killStates(nft: Nft, policy: Policy): Step {
  return {
    id: 'kill-states',
    describe: `Kill conntrack entries from the VM subnet ${policy.network.subnet} (if conntrack is installed)`,
    commands: () => [nft.killStates(policy.network.subnet)],
    ...noUndo,
    async run(ctx) {
      // Run it straight away: "not installed" is the runner's exit 127 (one command, not two).
      const r = await ctx.runner.run(nft.killStates(policy.network.subnet));
      if (r.exitCode === 127 || (r.exitCode !== 0 && (await ctx.runner.which('conntrack')) === undefined)) {
        ctx.log('conntrack is not installed: connections opened before enforce are not killed');
        return;
      }
      // conntrack -D exits 1 when there was nothing to delete.
      if (r.exitCode !== 0 && r.exitCode !== 1) throw new StepError(`"conntrack -D -s ${policy.network.subnet}" failed: ${r.stderr.trim()}`);
    },
  };
}
