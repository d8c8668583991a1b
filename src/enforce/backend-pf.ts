// The pf backend (macOS): its plan, preflight and health checks over the pf plan builders.

import type { Policy } from '../compiler/policy.ts';
import { anchorName } from '../compiler/policy.ts';
import type { EnforceArtifacts } from '../compiler/enforce-artifacts.ts';
import type { BackendPlan } from './backend.ts';
import { anchorProblem, ensurePfHolds, pfctlFor, planPf, rulesHash } from './plan-pf.ts';
import { pfEnabled } from './parse-pf-output.ts';
import { preflightPf } from './preflight-pf.ts';

export interface PfBackendInput {
  policy: Policy;
  artifacts: EnforceArtifacts;
  start: boolean;
  waitSeconds: number;
  home: string;
  stateDir: string;
}

// Assembles the pf backend for one policy.
export function pfBackend(input: PfBackendInput): BackendPlan {
  const { policy, artifacts } = input;
  const pf = pfctlFor(artifacts.pfctl);
  return {
    backend: 'pf',
    rulesName: anchorName(policy),
    artifacts,
    preflight: preflightPf({ policy, artifacts, home: input.home, stateDir: input.stateDir }),
    steps: planPf({ policy, artifacts, start: input.start, waitSeconds: input.waitSeconds }),
    rulesText: artifacts.anchor,
    expectedRulesHash: (state) => rulesHash(artifacts.anchor, state.iface === undefined ? {} : { vm_if: state.iface }),
    bridgeRange: (state) => `${state.vmAddress}/32`,
    async rulesProblem(ctx) {
      const info = await ctx.runner.run(pf.info());
      if (info.exitCode !== 0 || !pfEnabled(info.stdout)) return 'pf is not enabled';
      return anchorProblem(ctx, pf, artifacts, ctx.state.iface);
    },
    repairRules: (ctx) => ensurePfHolds(ctx, pf, artifacts),
    async vmGone(ctx) {
      if (ctx.state.vmStarted && ctx.state.vmPid !== undefined) return !ctx.runner.alive(ctx.state.vmPid);
      const r = await ctx.runner.run({ file: 'tart', args: ['list', '--format', 'json'] });
      if (r.exitCode !== 0) return false;
      try {
        const vms = JSON.parse(r.stdout) as Array<{ Name?: string; State?: string; Running?: boolean }>;
        const vm = vms.find((v) => v.Name === policy.vm);
        return !(vm?.Running === true || vm?.State === 'running');
      } catch {
        return false;
      }
    },
    async loadedRules(runner) {
      const r = await runner.run(pf.show());
      return r.exitCode === 0 ? r.stdout : undefined;
    },
  };
}
