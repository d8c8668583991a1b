// The socat bridge on the gateway: what listens for the VM there, and where it forwards.

import type { Bridge, Policy } from '../compiler/policy.ts';
import { findArtifactLine, type LayerResult } from './layer.ts';

export function targetText(b: Bridge): string {
  return b.target.kind === 'ipv6' ? `[${b.target.host}]:${b.target.port}` : `${b.target.host}:${b.target.port}`;
}

// The bridge layer for a connection to the gateway at `port`.
export function bridgeLayer(policy: Policy, port: number | undefined, bridgesSh: string): LayerResult {
  const bridge = port === undefined ? undefined : policy.bridges.find((b) => b.listen === port);
  if (!bridge) {
    return { layer: 'bridge', verdict: 'block', brief: `no bridge listens on ${port === undefined ? 'it' : `port ${port}`}`, reason: `no bridge listens on ${policy.network.gateway}${port === undefined ? '' : `:${port}`}; a host service there is not a bridge` };
  }
  const line = findArtifactLine('bridges.sh', bridgesSh, (l) => new RegExp(`-LISTEN:${bridge.listen},`).test(l));
  return {
    layer: 'bridge',
    verdict: 'pass',
    reason: `"${bridge.name}": socat on ${policy.network.gateway}:${bridge.listen} accepts only the VM (range=) and connects to ${targetText(bridge)}${bridge.target.kind === 'dns' ? ' (the name is resolved on the host, per connection)' : ''}, at most ${bridge.maxConnections} at once`,
    policyLine: bridge.span.line,
    ...(line ? { artifactLine: line } : {}),
  };
}
