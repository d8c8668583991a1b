// The pf anchor as pf evaluates it for a packet arriving from the VM: macros filled in, rules in
// order, the last match winning unless a `quick` rule matched first, no match passing. Reads the
// rule shapes the anchor emitter writes (action, direction, quick, on, af, proto, from/to with
// address lists and ports, all); a rule it cannot read is an error, never silently skipped.

import { inCidr, parseIpv4 } from '../net/ipv4.ts';
import type { Bridge } from '../compiler/policy.ts';
import type { LayerResult, Packet } from './layer.ts';

interface PfRule {
  line: number;
  text: string;
  action: 'pass' | 'block';
  dir?: 'in' | 'out';
  quick: boolean;
  on?: string;
  af?: 'inet' | 'inet6';
  proto?: string[];
  from: string[];
  fromPorts?: number[];
  to: string[];
  toPorts?: number[];
  /** `tagged X`: the rule matches only packets an `rdr … tag X` rule redirected. */
  tagged?: string;
}

/** An `rdr … to $gw port P tag T -> $gw port Q` rule: the anchor's way to the egress doors. */
interface PfRdr {
  line: number;
  text: string;
  proto: string[];
  to: string[];
  toPorts: number[];
  tag?: string;
  redirectPort: number;
}

// Parses the anchor's macros and rules.
export function parseAnchor(text: string): PfRule[] {
  return parseAnchorRules(text).rules;
}

// The anchor's translation (rdr) and filter rules, macros filled in.
export function parseAnchorRules(text: string): { rdr: PfRdr[]; rules: PfRule[] } {
  const macros = new Map<string, string>();
  const rules: PfRule[] = [];
  const rdr: PfRdr[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const def = /^([A-Za-z_]\w*)\s*=\s*"(.*)"$/.exec(line);
    if (def) {
      macros.set(def[1]!, def[2]!);
      return;
    }
    let expanded = line;
    for (let n = 0; n < 5; n++) expanded = expanded.replace(/\$(\w+)/g, (w, name: string) => macros.get(name) ?? w);
    if (/^rdr\b/.test(expanded)) rdr.push(parseRdr(expanded, i + 1, raw.trim()));
    else rules.push(parseRule(expanded, i + 1, raw.trim()));
  });
  return { rdr, rules };
}

// The rdr shape the anchor emitter writes: `rdr inet proto P from X to Y port N [tag T] -> Z port M`.
function parseRdr(line: string, lineNo: number, text: string): PfRdr {
  const m = /^rdr inet proto (\{[^}]*\}|\S+) from \S+ to (\S+) port (\d+)(?: tag (\S+))? -> \S+ port (\d+)$/.exec(line);
  if (!m) throw new Error(`anchor.pf:${lineNo}: explain cannot read "${text}"`);
  return {
    line: lineNo, text, proto: m[1]!.replace(/[{}]/g, ' ').split(/[\s,]+/).filter(Boolean), to: [m[2]!], toPorts: [Number(m[3])],
    ...(m[4] ? { tag: m[4] } : {}), redirectPort: Number(m[5]),
  };
}

function parseRule(line: string, lineNo: number, text: string): PfRule {
  const tokens = line.replace(/([{},])/g, ' $1 ').split(/\s+/).filter(Boolean);
  let i = 0;
  const next = () => tokens[i++];
  const action = next();
  if (action !== 'pass' && action !== 'block') throw new Error(`anchor.pf:${lineNo}: explain cannot read "${text}"`);
  const rule: PfRule = { line: lineNo, text, action, quick: false, from: ['any'], to: ['any'] };
  const list = (): string[] => {
    if (tokens[i] !== '{') return [next()!];
    i++;
    const out: string[] = [];
    while (i < tokens.length && tokens[i] !== '}') {
      const t = next()!;
      if (t !== ',') out.push(t);
    }
    i++;
    return out;
  };
  const ports = (): number[] => {
    if (tokens[i] === '=') i++;
    return list().map(Number);
  };
  while (i < tokens.length) {
    const t = next()!;
    if (t === 'in' || t === 'out') rule.dir = t;
    else if (t === 'quick') rule.quick = true;
    else if (t === 'return' || t === 'log' || t === 'all') continue;
    else if (t === 'on') rule.on = next();
    else if (t === 'inet' || t === 'inet6') rule.af = t;
    else if (t === 'proto') rule.proto = list();
    else if (t === 'from') {
      rule.from = list();
      if (tokens[i] === 'port') {
        i++;
        rule.fromPorts = ports();
      }
    } else if (t === 'to') {
      rule.to = list();
      if (tokens[i] === 'port') {
        i++;
        rule.toPorts = ports();
      }
    } else if (t === 'tag') i++;
    else if (t === 'tagged') rule.tagged = next();
    else if (t === 'flags') i++;
    else if (t === 'keep' || t === 'modulate' || t === 'synproxy') i++;
    else throw new Error(`anchor.pf:${lineNo}: explain cannot read "${t}" in "${text}"`);
  }
  return rule;
}

// Whether an address list from the rule holds the packet's destination; undefined: cannot tell (a name).
function addressMatches(list: string[], dst: Packet['dst']): boolean | undefined {
  let unknown = false;
  for (const a of list) {
    if (a === 'any') return true;
    if (dst.kind === 'name') {
      unknown = true;
      continue;
    }
    if (dst.kind === 'ipv6') continue;
    const [addr, prefix] = a.split('/');
    const v = parseIpv4(addr ?? '');
    if (v.ok && inCidr(dst.value, { network: v.value, prefix: Number(prefix ?? 32) })) return true;
  }
  return unknown ? undefined : false;
}

// A packet from the VM: its source is a host of the VM subnet, arriving on the VM's interface.
function sourceMatches(list: string[], vmSubnet: string): boolean {
  return list.some((a) => a === 'any' || a === vmSubnet);
}

export function pfLayer(original: Packet, anchor: string, vmSubnet: string, bridges: readonly Bridge[]): LayerResult {
  const { rdr, rules } = parseAnchorRules(anchor);
  const af = original.dst.kind === 'ipv6' ? 'inet6' : 'inet';
  // Translation first, as pf does: the filter rules see the redirected port and the tag.
  const redirect = af === 'inet' && original.port !== undefined
    ? rdr.find((r) => r.proto.includes(original.proto) && addressMatches(r.to, original.dst) === true && r.toPorts.includes(original.port!))
    : undefined;
  const packet: Packet = redirect ? { ...original, port: redirect.redirectPort } : original;
  let decided: PfRule | undefined;
  const caveats: string[] = [];
  for (const r of rules) {
    if (r.tagged !== undefined && r.tagged !== redirect?.tag) continue;
    if (r.dir === 'out') continue;
    if (r.af !== undefined && r.af !== af) continue;
    if (r.proto !== undefined && !r.proto.includes(packet.proto)) continue;
    if (r.on === undefined && !sourceMatches(r.from, vmSubnet)) continue;
    if (r.fromPorts !== undefined) continue; // only DHCP's client port 68 (UDP): never a TCP connection
    const to = addressMatches(r.to, packet.dst);
    if (to === false) continue;
    if (r.toPorts !== undefined && (packet.port === undefined || !r.toPorts.includes(packet.port))) {
      if (packet.port === undefined) caveats.push(`line ${r.line} would ${r.action} ports ${r.toPorts.join(', ')}`);
      continue;
    }
    if (to === undefined) {
      caveats.push(`line ${r.line} would ${r.action} it if the name resolved to ${r.to.join(', ')}`);
      continue;
    }
    decided = r;
    if (r.quick) break;
  }
  const base = { layer: 'pf', ...(redirect ? { redirect: { port: redirect.redirectPort, artifactLine: { artifact: 'anchor.pf', line: redirect.line, text: redirect.text } } } : {}) };
  if (!decided) return { ...base, verdict: 'pass', reason: 'no rule of the anchor matches: pf passes it (without state)' };
  const bridge = decided.action === 'pass' && packet.port !== undefined ? bridges.find((b) => b.listen === packet.port) : undefined;
  return {
    ...base,
    verdict: decided.action === 'pass' ? 'pass' : 'block',
    reason: `${redirect ? `redirected to port ${redirect.redirectPort} by anchor.pf:${redirect.line}, then ` : ''}${decided.quick ? 'the first quick rule that matches' : 'the last rule that matches'}${caveats.length ? ` (${caveats.join('; ')})` : ''}`,
    ...(bridge ? { policyLine: bridge.span.line } : {}),
    artifactLine: { artifact: 'anchor.pf', line: decided.line, text: decided.text },
  };
}
