// What enforce, --down, --dry-run and --supervise need from a backend (pf or nft), so each of them
// is written once.

import type { EnforceArtifacts } from '../compiler/enforce-artifacts.ts';
import type { CommandRunner } from '../host/command-runner.ts';
import type { PreflightCheck } from './preflight.ts';
import type { Backend, EnforceState } from '../formats/enforce-state.ts';
import type { Step, StepContext } from './step.ts';

export interface BackendPlan {
  backend: Backend;
  /** Where the rules live: the pf anchor path or the nft table. */
  rulesName: string;
  preflight: PreflightCheck[];
  steps: Step[];
  /** The rules text `--dry-run` diffs against what is loaded now. */
  rulesText: string;
  /** The hash the loaded rules must have for a state to be current. */
  expectedRulesHash(state: EnforceState): string;
  /** The bridges' range= for this state. */
  bridgeRange(state: EnforceState): string;
  /** Why the loaded rules do not hold as meant, or undefined when they do. */
  rulesProblem(ctx: StepContext): Promise<string | undefined>;
  /** Puts the rules back if they were lost (supervise); returns what it repaired. */
  repairRules(ctx: StepContext): Promise<string[]>;
  /** Whether the VM is gone (supervise tears down then). */
  vmGone(ctx: StepContext): Promise<boolean>;
  /** The rules loaded now, as text, for the --dry-run diff (undefined: none or unreadable). */
  loadedRules(runner: CommandRunner): Promise<string | undefined>;
  artifacts: EnforceArtifacts;
}
