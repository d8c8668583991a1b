// The nft backend (Linux, and the lab): its plan, preflight and health checks.

import type { Policy } from '../compiler/policy.ts';
import type { EnforceArtifacts } from '../compiler/enforce-artifacts.ts';
import type { BackendPlan } from './backend.ts';
import { interfaceFromIpJson } from '../host/find-interface.ts';
import { nftFor, nftProblem, nftRulesHash, nftText, planNft } from './plan-nft.ts';
import { preflightNft } from './preflight-nft.ts';
import { StepError } from './step.ts';

export interface NftBackendInput {
  policy: Policy;
  artifacts: EnforceArtifacts;
  waitSeconds: number;
  vmAddress?: string;
  home: string;
  stateDir: string;
  /** Defaults to "not root". */
  useSudo?: boolean;
}

// Assembles the nft backend for one policy.
export function nftBackend(input: NftBackendInput): BackendPlan {
  const { policy, artifacts } = input;
  const useSudo = input.useSudo ?? process.getuid?.() !== 0;
  const nft = nftFor(artifacts.nftTable, useSudo);
  return {
    backend: 'nft',
    rulesName: `inet ${artifacts.nftTable}`,
    artifacts,
    preflight: preflightNft({ policy, home: input.home, stateDir: input.stateDir, nft, ...(input.vmAddress ? { vmAddress: input.vmAddress } : {}) }),
    steps: planNft({ policy, artifacts, waitSeconds: input.waitSeconds, useSudo, ...(input.vmAddress ? { vmAddress: input.vmAddress } : {}) }),
    rulesText: nftText(artifacts, undefined),
    expectedRulesHash: (state) => nftRulesHash(nftText(artifacts, state.iface)),
    bridgeRange: (state) => (state.vmAddress ? `${state.vmAddress}/32` : policy.network.subnet),
    rulesProblem: (ctx) => nftProblem(ctx, nft, artifacts),
    async repairRules(ctx) {
      if ((await nftProblem(ctx, nft, artifacts)) === undefined) return [];
      const r = await ctx.runner.run(nft.load(nftText(artifacts, ctx.state.iface)));
      if (r.exitCode !== 0) throw new StepError(`reloading the nft table failed: ${r.stderr.trim()}`);
      const problem = await nftProblem(ctx, nft, artifacts);
      if (problem) throw new StepError(`The nft table does not hold after a reload: ${problem}.`);
      return ['the nft table was gone or changed; reloaded it'];
    },
    async vmGone(ctx) {
      const r = await ctx.runner.run(nft.addresses());
      return r.exitCode === 0 && interfaceFromIpJson(r.stdout, policy.network.gateway) === undefined;
    },
    async loadedRules(runner) {
      const r = await runner.run({ ...nft.list(), args: nft.list().args.filter((a) => a !== '-j') });
      return r.exitCode === 0 ? r.stdout : undefined;
    },
  };
}
