// Preflight for macOS/pf: tools, softnet's privilege, passwordless pfctl, the main ruleset still
// evaluating com.apple/* (else our anchor loads and does nothing), and the VM present and stopped.

import { statSync } from 'node:fs';
import type { Policy } from '../compiler/policy.ts';
import { cmd, sudo } from './command.ts';
import { mainRulesetHasAppleAnchor } from './parse-pf-output.ts';
import type { PreflightCheck } from './preflight.ts';
import { cageCheck, mountsCheck, portsCheck, toolsCheck } from './preflight-common.ts';
import { pfctlFor, type Pfctl } from './plan-pf.ts';

export interface PfPreflightInput {
  policy: Policy;
  home: string;
  stateDir: string;
}

// Every pf preflight check, in the order they are reported.
export function preflightPf(input: PfPreflightInput): PreflightCheck[] {
  const { policy } = input;
  const pf = pfctlFor(policy);
  return [
    mountsCheck(policy, input.home),
    cageCheck(policy, input.stateDir),
    toolsCheck(['tart', 'softnet', 'socat', 'pfctl', 'ifconfig']),
    softnetCheck(),
    pfctlCheck(pf),
    appleAnchorCheck(pf),
    vmCheck(policy),
    portsCheck(policy, '0.0.0.0'),
  ];
}

// softnet must run privileged: its SUID bit, or passwordless sudo (tart only offers to set the bit
// in an interactive session, and enforce runs unattended).
function softnetCheck(): PreflightCheck {
  const sudoTrue = sudo(cmd('true'));
  return {
    id: 'softnet',
    describe: 'Check softnet is SUID root or sudo -n works',
    commands: [sudoTrue],
    async check(ctx) {
      const path = await ctx.runner.which('softnet');
      if (path === undefined) return [];
      const st = statSync(path);
      if ((st.mode & 0o4000) !== 0 && st.uid === 0) return [];
      if ((await ctx.runner.run(sudoTrue)).exitCode === 0) return [];
      return [{
        message: `softnet ("${path}") is neither SUID root nor runnable through passwordless sudo.`,
        fix: `sudo chown root "${path}" && sudo chmod u+s "${path}"`,
      }];
    },
  };
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
    describe: `Check the VM "${policy.vm}" exists and is not running`,
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
      return [];
    },
  };
}
