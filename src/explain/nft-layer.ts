// The nft table (Linux backend) for a packet from the VM: the input chain when it is for the
// gateway (the host), the forward chain otherwise; rules in order, the first verdict wins, the
// chain policy (accept) when none matches. Reads the rule shapes the nft emitter writes.

import { inCidr, parseIpv4 } from '../net/ipv4.ts';
import type { Bridge } from '../compiler/policy.ts';
import type { LayerResult, Packet } from './layer.ts';

interface NftRule {
  chain: string;
  line: number;
  text: string;
  conds: Array<[string, string[]]>;
  verdict: 'accept' | 'reject' | 'drop' | 'dnat';
  /** dnat: the gateway port the packet is sent on to. */
  toPort?: number;
}

export function parseNftRules(text: string): NftRule[] {
  const rules: NftRule[] = [];
  let chain = '';
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    const c = /^chain (\w+)/.exec(line);
    if (c) chain = c[1]!;
    if (!chain || line === '' || /^(type|chain|table|define|delete|\})/.test(line)) return;
    const dnat = /\bdnat ip to [\d.]+:(\d+)$/.exec(line);
    const verdict = dnat ? 'dnat' : /\b(accept|reject|drop)\b/.exec(line)?.[1] as NftRule['verdict'] | undefined;
    if (!verdict) return;
    // `counter` is a statement, not a match: left in, it would pair with the next token as a
    // condition no packet meets, and every counted rule (the rejects among them) would be skipped.
    const body = line
      .slice(0, dnat ? dnat.index : line.search(/\b(accept|reject|drop)\b/))
      .replace(/\bcounter\b/g, ' ')
      .replace(/([{},])/g, ' $1 ');
    const tokens = body.split(/\s+/).filter(Boolean);
    const conds: NftRule['conds'] = [];
    for (let j = 0; j < tokens.length; ) {
      // Most matches are two words (ip saddr, tcp dport); an interface match is one (iifname).
      const single = tokens[j] === 'iifname' || tokens[j] === 'oifname';
      const key = single ? tokens[j]! : `${tokens[j]} ${tokens[j + 1]}`;
      j += single ? 1 : 2;
      const values: string[] = [];
      if (tokens[j] === '{') {
        for (j++; j < tokens.length && tokens[j] !== '}'; j++) if (tokens[j] !== ',') values.push(tokens[j]!);
        j++;
      } else values.push(tokens[j++]!);
      conds.push([key, values]);
    }
    rules.push({ chain, line: i + 1, text: raw.trim(), conds, verdict, ...(dnat ? { toPort: Number(dnat[1]) } : {}) });
  });
  return rules;
}

export function nftLayer(original: Packet, nft: string, gateway: string, vmSubnet: string, bridges: readonly Bridge[]): LayerResult {
  const toHost = original.dst.kind === 'ipv4' && original.dst.text === gateway;
  let packet = original;
  let redirect: NftRule | undefined;
  const chain = toHost ? 'input' : 'forward';
  const v6 = packet.dst.kind === 'ipv6';
  const matches = (key: string, values: string[]): boolean | undefined => {
    switch (key) {
      case 'ip saddr':
        return !v6 && values.includes(vmSubnet);
      case 'ip daddr': {
        if (v6) return false;
        if (packet.dst.kind === 'name') return undefined;
        const dst = packet.dst.kind === 'ipv4' ? packet.dst.value : 0;
        return values.some((a) => {
          const [addr, prefix] = a.split('/');
          const v = parseIpv4(addr ?? '');
          return v.ok && inCidr(dst, { network: v.value, prefix: Number(prefix ?? 32) });
        });
      }
      case 'tcp dport':
      case 'th dport':
        return packet.port !== undefined && values.map(Number).includes(packet.port);
      case 'ct status':
        return values.includes('dnat') && redirect !== undefined;
      case 'meta l4proto':
        return values.includes(packet.proto);
      case 'meta nfproto':
        return values.includes(v6 ? 'ipv6' : 'ipv4');
      case 'iifname':
        return true;
      default:
        // ct (replies only), udp ports: never a new TCP connection from the VM.
        return false;
    }
  };
  const rules = parseNftRules(nft);
  // The nat chain first, as netfilter's prerouting hook runs before input: a door's dnat.
  for (const r of rules.filter((x) => x.verdict === 'dnat')) {
    if (!toHost) break;
    const results = r.conds.map(([k, v]) => matches(k, v));
    if (results.every((x) => x === true)) {
      redirect = r;
      packet = { ...original, port: r.toPort! };
      break;
    }
  }
  const base = { layer: 'nft', ...(redirect ? { redirect: { port: redirect.toPort!, artifactLine: { artifact: 'nft.conf', line: redirect.line, text: redirect.text } } } : {}) };
  for (const r of rules.filter((x) => x.chain === chain)) {
    const results = r.conds.map(([k, v]) => matches(k, v));
    if (results.some((x) => x === false)) continue;
    if (results.some((x) => x === undefined)) continue;
    const bridge = r.verdict === 'accept' && packet.port !== undefined ? bridges.find((b) => b.listen === packet.port) : undefined;
    return {
      ...base,
      verdict: r.verdict === 'accept' ? 'pass' : 'block',
      reason: `${redirect ? `redirected to port ${redirect.toPort} by nft.conf:${redirect.line}, then ` : ''}the first rule of the ${chain} chain that matches`,
      ...(bridge ? { policyLine: bridge.span.line } : {}),
      artifactLine: { artifact: 'nft.conf', line: r.line, text: r.text },
    };
  }
  return { ...base, verdict: 'pass', reason: `no rule of the ${chain} chain matches: its policy accepts it` };
}
