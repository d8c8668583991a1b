// Preflight for macOS/pf: tools and their versions, softnet's privilege, passwordless pfctl, the
// main ruleset still evaluating com.apple/* (else our anchor loads and does nothing), no other
// nanopolicy cage on the subnet, and the VM present and stopped (not suspended).

import { statSync } from 'node:fs';
import type { Policy } from '../compiler/policy.ts';
import type { EnforceArtifacts } from '../compiler/enforce-artifacts.ts';
import { cmd, sudo, type Cmd } from '../host/command.ts';
import { otherCagesCheck } from './preflight-other-cages.ts';
import { mainRulesetHasAppleAnchor } from './parse-pf-output.ts';
import type { PreflightCheck } from './preflight.ts';
import { cageCheck, mountsCheck, portsCheck, toolsCheck } from './preflight-common.ts';
import { pfctlFor, type Pfctl } from './plan-pf.ts';
import { keychainUserCheck } from './preflight-keychain-user.ts';

export interface PfPreflightInput {
  policy: Policy;
  artifacts: EnforceArtifacts;
  home: string;
  stateDir: string;
}

// Every pf preflight check, in the order they are reported.
export function preflightPf(input: PfPreflightInput): PreflightCheck[] {
  const { policy } = input;
  const pf = pfctlFor(input.artifacts.pfctl);
  return [
    mountsCheck(policy, input.home),
    cageCheck(policy, input.stateDir),
    toolsCheck(['tart', 'softnet', 'socat', 'pfctl', 'ifconfig']),
    versionsCheck(),
    softnetCheck(input.artifacts),
    pfctlCheck(pf),
    appleAnchorCheck(pf),
    otherCagesCheck(policy, pf, input.stateDir),
    vmCheck(policy),
    portsCheck(policy, '0.0.0.0'),
    // Only for policies that read the keychain (the list, and --dry-run, stay as they were otherwise).
    ...[keychainUserCheck(policy)].filter((c) => c !== undefined),
  ];
}

// softnet must run privileged: SUID root, or passwordless sudo as softnet itself escalates. softnet
// (src/main.rs) probes with `sudo -n <itself> <its arguments> --sudo-escalation-probing`, which exits
// 0 once the arguments parse, and then re-runs itself with `sudo --non-interactive`. So the probe is
// exactly that, for softnet and nothing else (a sudo rule for softnet alone is enough; `sudo -n true`
// is neither needed nor sufficient), and without a terminal: tart runs it under enforce's detached
// `tart run`, where a password typed on the owner's terminal a moment ago does not count. (tart
// offers to set the SUID bit only when its stdout is a terminal, Run.swift: never under enforce.)
function softnetCheck(artifacts: EnforceArtifacts): PreflightCheck {
  const probe = (path: string): Cmd => ({ ...sudo(cmd(path, ...softnetArgs(artifacts.tartRunArgs), '--sudo-escalation-probing')), noTerminal: true });
  return {
    id: 'softnet',
    describe: 'Check softnet is SUID root or escalates itself with passwordless sudo, as softnet probes it',
    commands: [probe('<softnet>')],
    async check(ctx) {
      const path = await ctx.runner.which('softnet');
      if (path === undefined) return [];
      const st = statSync(path);
      if ((st.mode & 0o4000) !== 0 && st.uid === 0) return [];
      const r = await ctx.runner.run(probe(path));
      if (r.exitCode === 0) return [];
      return [{
        message: `softnet ("${path}") is not SUID root and cannot escalate itself: "sudo -n ${path} … --sudo-escalation-probing" failed without a terminal (${r.stderr.trim().split('\n')[0] || `exit ${r.exitCode}`}).`,
        fix: `sudo chown root "${path}" && sudo chmod u+s "${path}" (or a NOPASSWD sudoers rule for "${path}")`,
      }];
    },
  };
}

/** A MAC address for the probe: softnet only parses it there (any valid one does). */
const PROBE_MAC = '02:00:00:00:00:01';

// The arguments tart gives softnet for these `tart run` flags (Softnet.swift, Run.swift): the VM's
// socket on fd 0, its MAC, then --allow/--block/--expose in that order.
export function softnetArgs(tartRunArgs: readonly string[]): string[] {
  const out = ['--vm-fd', '0', '--vm-mac-address', PROBE_MAC];
  for (const flag of ['allow', 'block', 'expose']) {
    const given = tartRunArgs.find((a) => a.startsWith(`--net-softnet-${flag}=`));
    if (given !== undefined) out.push(`--${flag}`, given.slice(`--net-softnet-${flag}=`.length));
  }
  return out;
}

/** `--net-softnet-block`, which every compiled `tart run` uses, exists from these versions on. */
export const MIN_TART = '2.30.0';
export const MIN_SOFTNET = '0.16.0';

// tart >= 2.30.0 and softnet >= 0.16.0, or `tart run --net-softnet-block` fails at once. tart prints
// its release tag with --version (Root.swift, CI.swift; "SNAPSHOT" for a build from source, taken as
// new enough); softnet has no --version (clap without `version`), so its --help is read for the
// `--block` option 0.16.0 added.
function versionsCheck(): PreflightCheck {
  const tartVersion = cmd('tart', '--version');
  const softnetHelp = cmd('softnet', '--help');
  return {
    id: 'versions',
    describe: `Check tart >= ${MIN_TART} and softnet >= ${MIN_SOFTNET} (for --net-softnet-block)`,
    commands: [tartVersion, softnetHelp],
    async check(ctx) {
      const problems = [];
      if ((await ctx.runner.which('tart')) !== undefined) {
        const r = await ctx.runner.run(tartVersion);
        const v = r.stdout.trim();
        if (r.exitCode !== 0 || !(v === 'SNAPSHOT' || (isVersion(v) && compareVersions(v, MIN_TART) >= 0))) {
          problems.push({
            message: `tart ${v || '(version unknown)'} is older than ${MIN_TART}, which the compiled "tart run --net-softnet-block" needs.`,
            fix: 'brew upgrade cirruslabs/cli/tart',
          });
        }
      }
      if ((await ctx.runner.which('softnet')) !== undefined) {
        const r = await ctx.runner.run(softnetHelp);
        if (r.exitCode !== 0 || !/^\s*--block\b/m.test(r.stdout)) {
          problems.push({
            message: `softnet is older than ${MIN_SOFTNET}: its --help has no --block option, which tart's --net-softnet-block passes on.`,
            fix: 'brew upgrade cirruslabs/cli/softnet',
          });
        }
      }
      return problems;
    },
  };
}

function isVersion(v: string): boolean {
  return /^\d+\.\d+\.\d+$/.test(v);
}

// Compares two x.y.z versions numerically.
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i]! !== pb[i]!) return pa[i]! - pb[i]!;
  return 0;
}

function pfctlCheck(pfctl: Pfctl): PreflightCheck {
  return {
    id: 'pfctl',
    describe: 'Check "sudo -n pfctl" works without a password',
    commands: [pfctl.info()],
    async check(ctx) {
      const r = await ctx.runner.run(pfctl.info());
      if (r.exitCode === 0) return [];
      return [{
        message: `"sudo -n pfctl -s info" failed: ${r.stderr.trim() || `exit ${r.exitCode}`}.`,
        fix: 'Install the sudoers lines "nanopolicy compile" writes (sudoers) with visudo -f /etc/sudoers.d/nanopolicy; see docs/enforce.md.',
      }];
    },
  };
}

// An anchor under com.apple/ is evaluated only while the main ruleset says `anchor "com.apple/*"`.
function appleAnchorCheck(pfctl: Pfctl): PreflightCheck {
  return {
    id: 'main-ruleset',
    describe: 'Check the main pf ruleset still evaluates the anchors under com.apple/',
    commands: [pfctl.mainRules()],
    async check(ctx) {
      const r = await ctx.runner.run(pfctl.mainRules());
      if (r.exitCode !== 0) return []; // reported by the pfctl check
      if (mainRulesetHasAppleAnchor(r.stdout)) return [];
      return [{
        message: 'The main pf ruleset has no `anchor "com.apple/*"` line, so the nanopolicy anchor would load and never be evaluated.',
        fix: 'Reload the stock rules: sudo pfctl -f /etc/pf.conf (and check /etc/pf.conf still has the com.apple anchor lines).',
      }];
    },
  };
}

interface TartVm {
  Name?: string;
  State?: string;
  Running?: boolean;
}

// The VM exists and is stopped: tart applies network and share settings only at `tart run`, so a
// VM already running is not under this policy's softnet flags.
function vmCheck(policy: Policy): PreflightCheck {
  const list = cmd('tart', 'list', '--format', 'json');
  return {
    id: 'vm',
    describe: `Check the VM "${policy.vm}" exists and is stopped (not running, not suspended)`,
    commands: [list],
    async check(ctx) {
      const r = await ctx.runner.run(list);
      if (r.exitCode !== 0) return [{ message: `"tart list" failed: ${r.stderr.trim()}.`, fix: 'Run "tart list" yourself to see why.' }];
      let vms: TartVm[];
      try {
        vms = JSON.parse(r.stdout) as TartVm[];
      } catch {
        return [{ message: '"tart list --format json" printed something that is not JSON.', fix: 'Update tart (brew upgrade cirruslabs/cli/tart).' }];
      }
      const vm = vms.find((v) => v.Name === policy.vm);
      if (vm === undefined) {
        return [{ message: `tart has no VM named "${policy.vm}".`, fix: `Create it (tart clone ghcr.io/cirruslabs/macos-sequoia-base:latest ${policy.vm}) or fix the vm line.` }];
      }
      const running = vm.Running === true || vm.State === 'running';
      if (running) {
        return [{
          message: `The VM "${policy.vm}" is already running, without this policy's softnet flags and shares.`,
          fix: `Stop it (tart stop ${policy.vm}) and run enforce again; enforce loads the rules before the VM starts.`,
        }];
      }
      // `tart run` resumes a suspended VM from its saved memory (Run.swift restoreMachineStateFrom):
      // processes, connections and mounts from before these rules, maybe from other shares.
      if (vm.State === 'suspended') {
        return [{
          message: `The VM "${policy.vm}" is suspended: "tart run" would resume its saved state, which predates this policy's rules and shares.`,
          fix: `Discard the saved state with "tart stop ${policy.vm}" (the VM then boots afresh; unsaved work in it is lost), and run enforce again.`,
        }];
      }
      if (vm.State !== undefined && vm.State !== 'stopped') {
        return [{ message: `tart reports the VM "${policy.vm}" as "${vm.State}", not stopped.`, fix: `Check "tart list"; stop it with "tart stop ${policy.vm}".` }];
      }
      return [];
    },
  };
}
