// The real artifacts, from the compiler's emitters.

import type { Policy } from './policy.ts';
import { emitAnchor } from './emit/anchor-pf.ts';
import { socatArgv } from './emit/bridges-sh.ts';
import { tartRunArgv } from './emit/tart-run.ts';
import { emitNftConf, nftTableName } from './emit/nft-conf.ts';
import { emitProxyJson } from './emit/proxy-json.ts';
import { pfctlCommands } from './emit/pfctl-commands.ts';
import type { EnforceArtifacts } from './enforce-artifacts.ts';

// Builds what enforce needs for one policy.
export function artifactsFor(policy: Policy): EnforceArtifacts {
  return {
    anchor: emitAnchor(policy),
    interfaceMacro: 'vm_if',
    tartRunArgs: tartRunArgv(policy),
    socatArgs: (bridge, range) => socatArgv(policy, bridge, range),
    nftRuleset: (vmIf) => emitNftConf(policy, { vmIf }),
    nftTable: nftTableName(policy),
    pfctl: pfctlCommands(policy),
    ...(policy.proxy ? { proxyConfig: (options) => emitProxyJson(policy, options) } : {}),
  };
}
