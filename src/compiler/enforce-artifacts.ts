// What enforce takes from the emitters: the compiled rules, the tart arguments and the socat
// command lines. One interface, so plans are pure functions of (policy, artifacts) and tests can
// hand in exactly the artifacts they mean. Verify compares the host with the same object: a
// command builds it once and hands it down, so no layer re-emits what the compiler made.

import type { Bridge } from './policy.ts';
import type { ProxyJsonOptions } from './emit/proxy-json.ts';
import type { PfctlCommands } from './emit/pfctl-commands.ts';

export interface EnforceArtifacts {
  /** pf anchor text as compiled; its interface slot is the pf macro named by `interfaceMacro`. */
  anchor: string;
  /** The macro pfctl fills with `-D <name>=<interface>` ("vm_if"). */
  interfaceMacro: string;
  /** Everything after `tart`: ["run", "--no-graphics", …, "<vm>"]. */
  tartRunArgs: string[];
  /** socat's arguments for one bridge listening on the gateway and accepting only `range`. */
  socatArgs(bridge: Bridge, range: string): string[];
  /** nft ruleset text (`nft -f -`) with the interface written in (nft 1.0.6 cannot -D a name the file defines). */
  nftRuleset(vmIf: string): string;
  /** "nanopolicy_<vm>" (in family inet). */
  nftTable: string;
  /** pfctl's argument lists for this policy's anchor (the compiled sudoers file allows exactly these). */
  pfctl: PfctlCommands;
  /** With egress: the proxy's config text (proxy.json) narrowed for this run. */
  proxyConfig?(options: ProxyJsonOptions): string;
}
