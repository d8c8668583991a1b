// The egress proxy on the gateway: whether it lets the VM through to a name and port, by the
// rules of the emitted proxy.json and the proxy's own matcher (src/formats/match-rule.ts), so what
// explain says is what the proxy will do. Offline: the name is matched, never resolved.

import type { ProxyRule } from '../formats/proxy-config.ts';
import { matchRule, nameMatches } from '../formats/match-rule.ts';
import type { EgressRule, Policy } from '../compiler/policy.ts';
import { findArtifactLine, type ArtifactLine, type LayerResult, type Packet } from './layer.ts';

/** The egress rule (and its policy line) that allows or comes nearest to a name. */
export interface ProxyVerdict {
  rule?: ProxyRule;
  egress?: EgressRule;
}

// The rules the proxy will load: proxy.json's, in file order.
export function proxyRules(proxyJson: string): ProxyRule[] {
  const config = JSON.parse(proxyJson) as { rules?: ProxyRule[] };
  if (!Array.isArray(config.rules)) throw new Error('proxy.json: explain cannot read its "rules"');
  return config.rules;
}

// The `"host": …` line of proxy.json that holds `rule` (the k-th rule with its host, so two
// ports of one name cite two lines).
function citeRule(proxyJson: string, rules: readonly ProxyRule[], rule: ProxyRule): ArtifactLine | undefined {
  const want = `"host": ${JSON.stringify(rule.host)},`;
  const k = rules.filter((r) => r.host === rule.host).indexOf(rule);
  let seen = 0;
  return findArtifactLine('proxy.json', proxyJson, (l) => l.trim() === want && seen++ === k);
}

// How many trailing DNS labels the name shares with a rule's host ("*" never counts).
function sharedLabels(pattern: string, name: string): number {
  const a = pattern.replace(/^\*\./, '').split('.').reverse();
  const b = name.split('.').reverse();
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

// The rule nearest a refused name: one that names it (another port), else the most shared labels.
function nearestRule(rules: readonly ProxyRule[], name: string): ProxyRule | undefined {
  const named = rules.find((r) => nameMatches(r.host, name));
  if (named) return named;
  const bare = rules.find((r) => r.host === `*.${name}`);
  if (bare) return bare;
  let best: ProxyRule | undefined;
  let bestN = -1;
  for (const r of rules) {
    const n = sharedLabels(r.host, name);
    if (n > bestN) [best, bestN] = [r, n];
  }
  return best;
}

// What the proxy adds on this rule's requests (issue 23): which secret, in which header or frame.
function injectionText(egress: EgressRule | undefined): string {
  if (!egress || (!egress.inject && egress.websocketToken === undefined)) return '';
  const added = (egress.inject ?? []).map((i) => {
    const secrets = i.template.flatMap((p) => ('secret' in p ? [`"${p.secret}"`] : []));
    return `the secret ${secrets.join(' and ')} as the header "${i.header}"`;
  });
  if (egress.websocketToken !== undefined) added.push(`the secret "${egress.websocketToken}" as the token of the gateway's IDENTIFY and RESUME`);
  return `; the proxy terminates TLS for this name with its own CA and adds ${added.join(', and ')} (the VM holds only the placeholder)`;
}

function ruleText(r: ProxyRule, egress: EgressRule | undefined): string {
  return `egress "${r.name}" ${r.host}:${r.port}${egress ? `, policy line ${egress.span.line}` : ''}`;
}

// The proxy layer for a connection to the gateway's proxy port asking for `request`.
export function proxyLayer(policy: Policy, request: Packet['request'], proxyJson: string): LayerResult {
  const rules = proxyRules(proxyJson);
  const egressOf = (r: ProxyRule) => policy.egress.find((e) => e.name === r.name);
  const base = { layer: 'proxy' };
  if (request === undefined) {
    return { ...base, verdict: 'pass', reason: `the egress proxy listens here; it connects only to the ${rules.length} name(s) the egress rules list (policy lines ${policy.egress.map((e) => e.span.line).join(', ')})` };
  }
  if (request.kind !== 'name') {
    return { ...base, verdict: 'block', brief: 'the egress proxy refuses IP literals', reason: 'the egress proxy refuses an IP address as the destination: it connects only to names the egress rules list' };
  }
  const name = request.text;
  const port = request.port;
  const match = port === undefined ? undefined : matchRule(rules, name, port);
  const anyPort = port === undefined ? rules.find((r) => nameMatches(r.host, name)) : undefined;
  const rule = match?.ok ? match.rule : anyPort;
  if (rule) {
    const egress = egressOf(rule);
    const line = citeRule(proxyJson, rules, rule);
    return {
      ...base,
      verdict: 'pass',
      reason: `the proxy allows ${name}:${rule.port} by ${ruleText(rule, egress)}${rule.host.startsWith('*.') ? ` (${rule.host} matches names strictly below ${rule.host.slice(2)})` : ''}${injectionText(egress)}`,
      ...(egress ? { policyLine: egress.span.line } : {}),
      ...(line ? { artifactLine: line } : {}),
    };
  }
  const nearest = nearestRule(rules, name);
  const egress = nearest ? egressOf(nearest) : undefined;
  const why =
    match && !match.ok && match.reason !== 'name not listed'
      ? match.reason
      : nearest && nearest.host === `*.${name}`
        ? `${nearest.host} matches only names strictly below ${name}, never ${name} itself`
        : 'no egress rule lists the name';
  const near = nearest ? `; nearest: ${ruleText(nearest, egress)}` : '';
  const line = nearest ? citeRule(proxyJson, rules, nearest) : undefined;
  return {
    ...base,
    verdict: 'block',
    brief: `the egress proxy refuses ${port === undefined ? name : `${name}:${port}`} (${why}${near})`,
    reason: `the proxy refuses it with 403: ${why}${near}`,
    ...(egress ? { policyLine: egress.span.line } : {}),
    ...(line ? { artifactLine: line } : {}),
  };
}
