// Preflight for Linux/nft: the shared checks, nft usable (root or sudo -n), and the listen ports
// free on the gateway address.

import type { Policy } from '../compiler/policy.ts';
import type { Nft } from './plan-nft.ts';
import type { PreflightCheck } from './preflight.ts';
import { cageCheck, mountsCheck, portsCheck, toolsCheck } from './preflight-common.ts';
import { isVmAddress } from './is-vm-address.ts';

export interface NftPreflightInput {
  policy: Policy;
  home: string;
  stateDir: string;
  nft: Nft;
  /** --vm-address: narrows every bridge's range=, so it must be a host of the VM subnet. */
  vmAddress?: string;
}

// Every nft preflight check, in the order they are reported.
export function preflightNft(input: NftPreflightInput): PreflightCheck[] {
  const { policy } = input;
  const probe = { ...input.nft.list(), args: input.nft.list().args.slice(0, -4).concat(['list', 'tables']) };
  return [
    mountsCheck(policy, input.home),
    cageCheck(policy, input.stateDir),
    toolsCheck(['nft', 'ip', 'socat']),
    {
      id: 'nft',
      describe: 'Check nft can read the ruleset (root, or sudo -n)',
      commands: [probe],
      async check(ctx) {
        const r = await ctx.runner.run(probe);
        return r.exitCode === 0 ? [] : [{ message: `"nft list tables" failed: ${r.stderr.trim() || `exit ${r.exitCode}`}.`, fix: 'Run enforce as root, or allow nft through sudo without a password.' }];
      },
    },
    portsCheck(policy, policy.network.gateway),
    vmAddressCheck(policy, input.vmAddress),
  ];
}

// A --vm-address outside the subnet would let no one through the bridges, or the wrong host.
function vmAddressCheck(policy: Policy, vmAddress: string | undefined): PreflightCheck {
  return {
    id: 'vm-address',
    describe: 'Check --vm-address is a host of the VM subnet',
    commands: [],
    async check() {
      if (vmAddress === undefined || isVmAddress(vmAddress, policy.network.subnet, policy.network.gateway)) return [];
      return [
        {
          message: `--vm-address ${vmAddress} is not a host address of the VM subnet ${policy.network.subnet} (other than the gateway ${policy.network.gateway}).`,
          fix: 'Pass the address the VM really has on the VM network.',
        },
      ];
    },
  };
}
