// Softnet (domain.md §3): user rules by longest destination prefix, a block winning a tie; no
// rule matching, the internet and the gateway pass. IPv4 only: IPv6 never passes. Read from the
// emitted tart-run.sh, so what is cited is what tart will be given.

import { inCidr, parseIpv4, type Cidr4 } from '../net/ipv4.ts';
import { findArtifactLine, type LayerResult, type Packet } from './layer.ts';

interface Rule {
  action: 'allow' | 'block';
  cidr: Cidr4;
  text: string;
}

// The softnet rules the tart-run.sh text passes (--net-softnet-allow= / --net-softnet-block=).
export function softnetRules(tartRun: string): Rule[] {
  const out: Rule[] = [];
  for (const line of tartRun.split('\n')) {
    if (line.trimStart().startsWith('#')) continue;
    for (const m of line.matchAll(/--net-softnet-(allow|block)=([0-9./,]+)/g)) {
      for (const text of m[2]!.split(',')) {
        const [addr, prefix] = text.split('/');
        const v = parseIpv4(addr ?? '');
        if (v.ok) out.push({ action: m[1] as Rule['action'], cidr: { network: v.value, prefix: Number(prefix ?? 32) }, text });
      }
    }
  }
  return out;
}

export function softnetLayer(packet: Packet, tartRun: string, gateway: string): LayerResult {
  const rules = softnetRules(tartRun);
  const cite = (rule: Rule) => findArtifactLine('tart-run.sh', tartRun, (l) => l.includes(`--net-softnet-${rule.action}=`) && l.includes(rule.text));
  const base = { layer: 'softnet' };
  if (packet.dst.kind === 'ipv6') return { ...base, verdict: 'block', brief: 'IPv6 is dropped', reason: 'softnet passes only ARP and IPv4 from the VM: every IPv6 packet is dropped' };
  if (packet.dst.kind === 'name') {
    const allows = rules.filter((r) => r.action === 'allow').map((r) => r.text);
    const all = rules.find((r) => r.action === 'block' && r.cidr.prefix === 0);
    if (all) {
      const line = cite(all);
      return { ...base, verdict: 'block', brief: `block ${all.text}`, reason: `softnet sees addresses, not names: whatever "${packet.dst.text}" resolves to is blocked by block ${all.text}${allows.length ? ` unless it is in ${allows.join(', ')}` : ''} (explain resolves nothing)`, ...(line ? { artifactLine: line } : {}) };
    }
    return { ...base, verdict: 'pass', reason: 'no softnet rule covers every address: a name that resolves to a public address passes' };
  }
  const dst = packet.dst.value;
  const matching = rules.filter((r) => inCidr(dst, r.cidr)).sort((a, b) => b.cidr.prefix - a.cidr.prefix || (a.action === 'block' ? -1 : 1));
  const winner = matching[0];
  if (winner) {
    const others = matching.slice(1).map((r) => `${r.action} ${r.text}`);
    const line = cite(winner);
    return {
      ...base,
      verdict: winner.action === 'allow' ? 'pass' : 'block',
      brief: `${winner.action} ${winner.text}`,
      reason: `${winner.action} ${winner.text} is the longest matching prefix (/${winner.cidr.prefix})${others.length ? `, over ${others.join(', ')}` : ''}`,
      ...(line ? { artifactLine: line } : {}),
    };
  }
  return { ...base, verdict: 'pass', reason: packet.dst.text === gateway ? 'no rule matches; softnet passes the gateway by default' : 'no rule matches; softnet passes routable addresses by default' };
}
