// Which egress rule allows a (name, port), if any: exact names, or "*.suffix" strictly below it.

import type { ProxyRule } from './proxy-config.ts';

export type RuleMatch = { ok: true; rule: ProxyRule } | { ok: false; reason: string };

// `name` must already be normalised (lowercase, no trailing dot); rule hosts are by config.
export function matchRule(rules: readonly ProxyRule[], name: string, port: number): RuleMatch {
  const named = rules.filter((rule) => nameMatches(rule.host, name));
  if (named.length === 0) return { ok: false, reason: 'name not listed' };
  const rule = named.find((r) => r.port === port);
  if (!rule) return { ok: false, reason: `port ${port} not listed for this name (listed: ${[...new Set(named.map((r) => r.port))].join(', ')})` };
  return { ok: true, rule };
}

// "*.example.com" matches "a.example.com" and "a.b.example.com", never "example.com" itself,
// and never "badexample.com": the match is on a whole label boundary.
export function nameMatches(pattern: string, name: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === name;
  const suffix = pattern.slice(1); // ".example.com"
  return name.length > suffix.length && name.endsWith(suffix);
}
