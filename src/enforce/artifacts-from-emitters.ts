// The real artifacts, from the compiler's emitters.

import type { Policy } from '../compiler/policy.ts';
import { emitAnchor } from '../compiler/emit/anchor-pf.ts';
import { socatArgv } from '../compiler/emit/bridges-sh.ts';
import { tartRunArgv } from '../compiler/emit/tart-run.ts';
import { emitNftConf, nftTableName } from '../compiler/emit/nft-conf.ts';
import { emitProxyJson } from '../compiler/emit/proxy-json.ts';
import type { EnforceArtifacts } from './artifacts.ts';

// Builds what enforce needs for one policy.
export function artifactsFor(policy: Policy): EnforceArtifacts {
  return {
    anchor: emitAnchor(policy),
    interfaceMacro: 'vm_if',
    tartRunArgs: tartRunArgv(policy),
    socatArgs: (bridge, range) => socatArgv(policy, bridge, range),
    nftRuleset: (vmIf) => emitNftConf(policy, { vmIf }),
    nftTable: nftTableName(policy),
    ...(policy.proxy ? { proxyConfig: (options) => emitProxyJson(policy, options) } : {}),
  };
}
