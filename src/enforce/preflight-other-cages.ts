// Preflight: no other VM's nanopolicy anchor is loaded on a subnet overlapping this policy's (see
// other-cages.ts for why two cages on one vmnet subnet block each other).

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Policy } from '../compiler/policy.ts';
import { anchorName } from '../compiler/policy.ts';
import { addressesInSubnet, nanopolicyAnchors } from '../host/other-cages.ts';
import type { Pfctl } from './plan-pf.ts';
import type { PreflightCheck } from './preflight.ts';

// Lists com.apple/'s anchors and reads every other nanopolicy anchor (its own sudoers file allows
// that); one naming an address in our subnet, or one that cannot be read, is a problem.
export function otherCagesCheck(policy: Policy, pf: Pfctl, stateDir: string): PreflightCheck {
  const ours = anchorName(policy);
  return {
    id: 'other-cages',
    describe: `Check no other nanopolicy anchor under com.apple/ cages ${policy.network.subnet}`,
    commands: [pf.appleAnchors()],
    async check(ctx) {
      const list = await ctx.runner.run(pf.appleAnchors());
      if (list.exitCode !== 0) {
        return [{
          message: `Could not list the pf anchors under com.apple/ to look for another VM's cage: ${list.stderr.trim() || `exit ${list.exitCode}`}.`,
          fix: 'Install the sudoers file "nanopolicy compile" writes now (it allows "pfctl -a com.apple -s Anchors"); see docs/enforce.md.',
        }];
      }
      const problems = [];
      for (const other of nanopolicyAnchors(list.stdout).filter((a) => a !== ours)) {
        const owner = recordedPolicy(stateDir, other);
        const who = `the nanopolicy anchor "${other}"${owner ? ` (policy ${owner})` : ''}`;
        const fix = `Take that cage down first (nanopolicy enforce --down ${owner ?? '<its policy>'}), or flush a left-over anchor with "sudo pfctl -a ${other} -F all"; two VMs on one vmnet subnet are not supported yet.`;
        const r = await ctx.runner.run(pf.rulesOf(other));
        if (r.exitCode !== 0) {
          if (/DIOCGETRULES: Invalid argument/.test(r.stderr)) continue; // flushed since the listing
          problems.push({ message: `${cap(who)} is loaded and could not be read (${r.stderr.trim() || `exit ${r.exitCode}`}); vmnet gives all VMs one subnet, so it most likely cages ${policy.network.subnet} too.`, fix });
          continue;
        }
        const shared = addressesInSubnet(r.stdout, policy.network.subnet);
        if (shared.length > 0) {
          problems.push({
            message: `${cap(who)} is in force on ${shared.join(', ')}, inside this policy's subnet ${policy.network.subnet}: its final "block … from the subnet" would block this VM's bridges and DHCP, or ours its.`,
            fix,
          });
        }
      }
      return problems;
    },
  };
}

// The policy file a state directory beside ours recorded for that anchor, if any.
function recordedPolicy(stateDir: string, anchor: string): string | undefined {
  const parent = dirname(stateDir);
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    const path = join(parent, entry, 'state.json');
    if (!existsSync(path)) continue;
    try {
      const state = JSON.parse(readFileSync(path, 'utf8')) as { rulesName?: string; policyFile?: string };
      if (state.rulesName === anchor && typeof state.policyFile === 'string') return state.policyFile;
    } catch {
      // not a state file we can read: no name, the anchor is still reported
    }
  }
  return undefined;
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
