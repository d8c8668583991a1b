// The names our CA may vouch for: one dNSName subtree per injected host ("*.discord.gg" becomes
// "discord.gg", which RFC 5280 reads as that name and every name below it).

import type { Policy } from '../policy.ts';

// Sorted, each once: the same policy always gives the same constraints.
export function injectedCaNames(policy: Pick<Policy, 'egress'>): string[] {
  const names = new Set<string>();
  for (const rule of policy.egress) {
    if (!rule.inject && rule.websocketToken === undefined) continue;
    for (const host of rule.hosts) names.add(host.wildcard ? host.host.slice(2) : host.host);
  }
  return [...names].sort();
}
