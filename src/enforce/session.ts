// Everything one enforce invocation works from: the compiled policy, the backend's plan, the state
// directory and the command runner. Built once, used by apply, --down, --dry-run and --supervise.

import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { compilePolicyFile } from '../compiler/compile.ts';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import { hasErrors } from '../diagnostics/diagnostic.ts';
import type { Policy } from '../compiler/policy.ts';
import { artifactsFor } from '../compiler/artifacts-from-emitters.ts';
import type { BackendPlan } from './backend.ts';
import { pfBackend } from './backend-pf.ts';
import { nftBackend } from './backend-nft.ts';
import { createRunner, type CommandRunner } from '../host/command-runner.ts';
import { emptyState, defaultStateDir, type Backend, type EnforceState } from '../formats/enforce-state.ts';
import type { StepContext } from './step.ts';
import type { EnforceArtifacts } from '../compiler/enforce-artifacts.ts';
import { targetsCheck } from './preflight-common.ts';
import { lookupFor, type Lookup } from './resolve-target.ts';

export interface EnforceOptions {
  policyFile: string;
  backend: Backend;
  stateDir?: string;
  /** Start the VM (pf only; nft never starts it). */
  start: boolean;
  /** nft: the VM's address, to narrow range= from the subnet to one host. */
  vmAddress?: string;
  waitSeconds: number;
  /** Folder "~" in mount paths stands for. */
  home?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Progress lines (the CLI writes them to stderr). */
  log(message: string): void;
  /** Search the shares for secret-looking files and warn (enforce does; status and the like need not). */
  scanShares?: boolean;
  /** Tests inject a runner; otherwise one over execa with `env`. */
  runner?: CommandRunner;
  /** Tests inject artifacts; otherwise the emitters build them. */
  artifacts?: (policy: Policy) => EnforceArtifacts;
  /** Resolves bridge target names; otherwise lookupFor(env) (the system, or NANOPOLICY_HOSTS_FILE). */
  lookup?: Lookup;
}

export interface Session {
  policy: Policy;
  diagnostics: Diagnostic[];
  plan: BackendPlan;
  /** The compiled artifacts, built once for the whole command. */
  artifacts: EnforceArtifacts;
  stateDir: string;
  runner: CommandRunner;
  lookup: Lookup;
  options: EnforceOptions;
  /** A step context over `state`. */
  context(state: EnforceState): StepContext;
  fresh(): EnforceState;
}

// Compiles the policy and assembles the session, or returns the compile diagnostics.
export async function openSession(options: EnforceOptions): Promise<{ session: Session } | { diagnostics: Diagnostic[]; source?: string }> {
  const home = options.home ?? options.env.HOME ?? homedir();
  const probe = await compilePolicyFile(options.policyFile, { home, cwd: options.cwd });
  if (hasErrors(probe.diagnostics) || probe.policy === undefined) return { diagnostics: probe.diagnostics, ...(probe.source !== undefined ? { source: probe.source } : {}) };
  const stateDir = resolve(options.cwd, options.stateDir ?? defaultStateDir(probe.policy.vm, options.env, process.getuid?.()));
  // Compile again with the state directory as the output directory: the compiler's own check then
  // refuses a state directory inside a writable share.
  // It also looks inside the shares for secret-looking files, and warns as check does.
  const compiled = await compilePolicyFile(options.policyFile, { home, cwd: options.cwd, outputDir: stateDir, ...(options.scanShares ? { scanShares: true } : {}) });
  if (hasErrors(compiled.diagnostics) || compiled.policy === undefined) return { diagnostics: compiled.diagnostics, ...(compiled.source !== undefined ? { source: compiled.source } : {}) };
  const policy = compiled.policy;
  const artifacts = (options.artifacts ?? artifactsFor)(policy);
  const runner = options.runner ?? createRunner(options.env);
  const lookup = options.lookup ?? lookupFor(options.env);
  const backendPlan =
    options.backend === 'pf'
      ? pfBackend({ policy, artifacts, start: options.start, waitSeconds: options.waitSeconds, home, stateDir })
      : nftBackend({ policy, artifacts, waitSeconds: options.waitSeconds, home, stateDir, ...(options.vmAddress ? { vmAddress: options.vmAddress } : {}) });
  // Both backends refuse a bridge whose target is (or resolves to) the host, its loopback, the VM
  // subnet or an address no router forwards, before anything changes.
  const plan: BackendPlan = { ...backendPlan, preflight: [...backendPlan.preflight, targetsCheck(policy, lookup)] };
  const session: Session = {
    policy,
    diagnostics: compiled.diagnostics,
    plan,
    artifacts,
    stateDir,
    runner,
    lookup,
    options,
    context: (state) => ({ runner, state, stateDir, log: options.log, lookup }),
    fresh: () => emptyState(options.backend, policy.vm, policy.source.file, policy.source.sha256, plan.rulesName),
  };
  return { session };
}
