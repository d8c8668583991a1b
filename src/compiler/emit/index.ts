// Every artifact `compile` writes for a policy, sorted by name. Pure: same policy, same bytes.

import type { Artifact } from '../artifact.ts';
import type { Policy } from '../policy.ts';
import { emitAnchor } from './anchor-pf.ts';
import { ARTIFACT_MANIFEST, emitArtifactManifest } from './artifact-manifest.ts';
import { emitBridgesScript } from './bridges-sh.ts';
import { emitHosts } from './hosts.ts';
import { emitLaunchdPlist, type LaunchdOptions } from './launchd-plist.ts';
import { emitNftConf } from './nft-conf.ts';
import { emitProxyEnv } from './proxy-env.ts';
import { emitProxyJson } from './proxy-json.ts';
import { emitSudoers, type SudoersOptions } from './sudoers.ts';
import { emitTartRun } from './tart-run.ts';
import { emitVerifyJson } from './verify-manifest.ts';

export interface EmitOptions {
  /** nanopolicy's absolute path for the LaunchDaemon (compile passes the running one); default /usr/local/bin/nanopolicy. */
  program?: LaunchdOptions['program'];
  /** Who the sudoers lines are for; default %admin. */
  sudoUser?: SudoersOptions['user'];
}

const SCRIPT = 0o755;
const FILE = 0o644;

// All artifacts, manifest.json last computed over the others, sorted by name.
export function emitArtifacts(policy: Policy, options: EmitOptions = {}): Artifact[] {
  const artifacts: Artifact[] = [
    { name: 'anchor.pf', content: emitAnchor(policy), mode: FILE, description: 'pf anchor: the host kernel filter for the VM subnet' },
    { name: 'bridges.sh', content: emitBridgesScript(policy), mode: SCRIPT, description: 'socat bridges on the gateway address, one per allowed endpoint' },
    { name: 'hosts', content: emitHosts(policy), mode: FILE, description: "lines for the VM's /etc/hosts so TLS names resolve to the gateway" },
    {
      name: 'launchd.plist',
      content: emitLaunchdPlist(policy, options.program === undefined ? {} : { program: options.program }),
      mode: FILE,
      description: 'LaunchDaemon that enforces the policy again at boot',
    },
    { name: 'nft.conf', content: emitNftConf(policy), mode: FILE, description: 'nftables ruleset for the Linux backend and the lab' },
    ...(policy.proxy
      ? [
          { name: 'proxy.env', content: emitProxyEnv(policy), mode: FILE, description: "HTTPS_PROXY and friends for the VM's shell and launchd (how to install it is inside)" },
          { name: 'proxy.json', content: emitProxyJson(policy), mode: FILE, description: 'the egress proxy configuration (enforce narrows it to the VM address)' },
        ]
      : []),
    {
      name: 'sudoers',
      content: emitSudoers(policy, options.sudoUser === undefined ? {} : { user: options.sudoUser }),
      mode: FILE,
      description: 'sudo rules for the exact pfctl commands enforce runs',
    },
    { name: 'tart-run.sh', content: emitTartRun(policy), mode: SCRIPT, description: 'tart run with softnet closed and only the policy shares' },
    { name: 'verify.json', content: emitVerifyJson(policy), mode: FILE, description: 'what verify must find open and blocked' },
  ];
  artifacts.push({
    name: ARTIFACT_MANIFEST,
    content: emitArtifactManifest(policy, artifacts),
    mode: FILE,
    description: "hashes of the other artifacts, checked by enforce",
  });
  return artifacts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export { emitAnchor, bridgePorts, DEFAULT_VM_IF, gatewayPorts } from './anchor-pf.ts';
export { buildArtifactManifest, sha256Hex, type ArtifactManifest } from './artifact-manifest.ts';
export { emitBridgesScript, RANGE_ENV, socatArgv, socatTarget } from './bridges-sh.ts';
export { headerLines } from './header.ts';
export { emitHosts, hostsEntries } from './hosts.ts';
export { emitLaunchdPlist, launchdLabel, launchdProgramArguments } from './launchd-plist.ts';
export { emitNftConf, nflogGroup, nftTableName } from './nft-conf.ts';
export { emitProxyEnv, noProxyList, proxyEnvironment, proxyUrl } from './proxy-env.ts';
export { buildProxyConfig, emitProxyJson, PROXY_AUDIT_LOG } from './proxy-json.ts';
export { pfctlCommands, PFCTL, type PfctlCommands } from './pfctl-commands.ts';
export { shellJoin, shellQuote } from './shell-quote.ts';
export { emitSudoers } from './sudoers.ts';
export { emitTartRun, tartRunArgv } from './tart-run.ts';
export { buildVerifyManifest, emitVerifyJson } from './verify-manifest.ts';
