// `explain`: walks a target through every layer of the compiled policy, offline (no name is ever
// resolved), in the order a packet or a file access meets them. Modelled on Capirca's aclcheck,
// across all the layers instead of one filter.

import { resolve } from 'node:path';
import type { Artifact } from '../compiler/artifact.ts';
import type { Policy } from '../compiler/policy.ts';
import { bridgeLayer, targetText } from './bridge-layer.ts';
import type { Explanation, LayerResult, Packet, Route } from './layer.ts';
import { nftLayer } from './nft-layer.ts';
import { parseExplainTarget } from './parse-target.ts';
import { pfLayer } from './pf-layer.ts';
import { proxyLayer } from './proxy-layer.ts';
import { explainPath } from './share-layer.ts';
import { softnetLayer } from './softnet-layer.ts';
import { parseIpv4 } from '../net/ipv4.ts';
import { DNS_PORT, egressDoors } from '../compiler/egress-doors.ts';
import { nameMatches } from '../formats/match-rule.ts';
import { normaliseName } from '../net/host-name.ts';

export type FirewallBackend = 'pf' | 'nft';

export interface ExplainContext {
  policy: Policy;
  artifacts: readonly Artifact[];
  backend: FirewallBackend;
  cwd: string;
}

export class ExplainTargetError extends Error {}

/** One network layer: its verdict on a packet from the VM, or undefined where it is not on the way. */
export type NetworkLayer = (ctx: ExplainContext, packet: Packet) => LayerResult | undefined;

// The layers, in the order a packet from the VM meets them. On the gateway, past the firewall,
// the egress proxy's port leads to the proxy and every other port to a bridge (or to nothing).
export const NETWORK_LAYERS: readonly NetworkLayer[] = [
  (ctx, p) => softnetLayer(p, text(ctx, 'tart-run.sh'), ctx.policy.network.gateway),
  (ctx, p) =>
    ctx.backend === 'pf'
      ? pfLayer(p, text(ctx, 'anchor.pf'), ctx.policy.network.subnet, ctx.policy.bridges)
      : nftLayer(p, text(ctx, 'nft.conf'), ctx.policy.network.gateway, ctx.policy.network.subnet, ctx.policy.bridges),
  (ctx, p) =>
    !isGateway(ctx, p)
      ? undefined
      : ctx.policy.proxy && p.port === ctx.policy.proxy.listen
        ? proxyLayer(ctx.policy, p.request, text(ctx, 'proxy.json'))
        : doorLayer(ctx, p) ?? bridgeLayer(ctx.policy, p.port, text(ctx, 'bridges.sh')),
];

// The egress doors the firewall redirects the gateway's listed ports and 53 to: the transparent
// door runs the proxy's own rules on the TLS server name; the DNS responder answers from the
// policy alone. Undefined when the port is no door's.
function doorLayer(ctx: ExplainContext, p: Packet): LayerResult | undefined {
  const doors = ctx.policy.proxy ? egressDoors(ctx.policy) : undefined;
  if (!doors || p.port === undefined) return undefined;
  if (doors.transparent.some((d) => d.port === p.port)) {
    const request = p.request?.kind === 'name' ? { ...p.request, port: p.port } : p.request;
    const verdict = proxyLayer(ctx.policy, request, text(ctx, 'proxy.json'));
    return { ...verdict, layer: 'door', reason: `the transparent door takes the name from the TLS server name and applies the proxy's rules: ${verdict.reason}` };
  }
  if (p.port === DNS_PORT) {
    return { layer: 'dns', verdict: 'pass', reason: `nanopolicy's DNS responder answers here: the policy's ${ctx.policy.egress.flatMap((e) => e.hosts).length} name(s) with ${ctx.policy.network.gateway}, every other name with NXDOMAIN; it forwards nothing` };
  }
  return undefined;
}

function text(ctx: ExplainContext, name: string): string {
  const a = ctx.artifacts.find((x) => x.name === name);
  if (!a) throw new Error(`explain needs the artifact ${name}`);
  return a.content;
}

function isGateway(ctx: ExplainContext, p: Packet): boolean {
  return p.dst.kind === 'ipv4' && p.dst.text === ctx.policy.network.gateway;
}

// The route a packet takes through every layer.
function route(ctx: ExplainContext, name: string, packet: Packet): Route {
  const layers = NETWORK_LAYERS.map((l) => l(ctx, packet)).filter((l): l is LayerResult => l !== undefined);
  const as = packet.port === undefined ? packet.dst.text : packet.dst.kind === 'ipv6' ? `[${packet.dst.text}]:${packet.port}` : `${packet.dst.text}:${packet.port}`;
  return { name, as, reaches: layers.every((l) => l.verdict === 'pass'), layers };
}

// Explains TARGET; throws ExplainTargetError when it is not a target at all.
export function explain(ctx: ExplainContext, target: string): Explanation {
  const parsed = parseExplainTarget(target);
  if (typeof parsed === 'string') throw new ExplainTargetError(parsed);
  if (parsed.kind === 'path') {
    const home = ctx.policy.owner.home;
    const abs = parsed.path === '~' ? home : parsed.path.startsWith('~/') ? home + parsed.path.slice(1) : resolve(ctx.cwd, parsed.path);
    return explainPath(ctx.policy, target, abs, text(ctx, 'tart-run.sh'));
  }
  const { policy } = ctx;
  const port = parsed.kind === 'endpoint' ? parsed.port : undefined;
  const packet: Packet = { dst: parsed.host, proto: 'tcp', ...(port !== undefined ? { port } : {}) };
  const direct = route(ctx, 'direct', packet);
  const host = parsed.host.text;
  const viaBridges = policy.bridges.filter((b) => b.target.host === host && (port === undefined || b.target.port === port));
  const gatewayV4 = parseIpv4(policy.network.gateway);
  const gatewayDst: Packet['dst'] = { kind: 'ipv4', value: gatewayV4.ok ? gatewayV4.value : 0, text: policy.network.gateway };
  const bridgeRoutes = viaBridges.map((b) => route(ctx, `bridge ${b.name}`, { dst: gatewayDst, port: b.listen, proto: 'tcp' }));
  // The egress proxy takes any target but the gateway itself: a name it may allow, an address it refuses.
  const proxy = policy.proxy;
  const request: Packet['request'] | undefined = parsed.host.kind === 'name' ? { kind: 'name', text: host, ...(port !== undefined ? { port } : {}) } : isGateway(ctx, packet) ? undefined : { kind: parsed.host.kind, text: host };
  const proxyRoute = proxy && request ? route(ctx, 'egress proxy', { dst: gatewayDst, port: proxy.listen, proto: 'tcp', request }) : undefined;
  // A name resolved in the VM (our DNS responder, or the hosts lines) leads to the gateway on its
  // own port: the transparent door for that port, when the policy lists it.
  const doors = proxy ? egressDoors(policy) : undefined;
  const doorPort = parsed.host.kind === 'name' && doors ? (port ?? 443) : undefined;
  const transparentRoute = doorPort !== undefined && doors!.transparent.some((d) => d.port === doorPort) && request
    ? route(ctx, 'transparent door', { dst: gatewayDst, port: doorPort, proto: 'tcp', request })
    : undefined;
  const notes: string[] = [];
  if (doors && parsed.host.kind === 'name') {
    const listed = policy.egress.find((e) => e.hosts.some((h) => nameMatches(h.host, normaliseName(host))));
    notes.push(listed
      ? `A DNS query for ${host} in the VM goes to ${policy.network.gateway}:53, which the firewall redirects to nanopolicy's DNS responder (port ${doors.dns}); it answers ${policy.network.gateway} (egress "${listed.name}", policy line ${listed.span.line}) and forwards nothing.`
      : `A DNS query for ${host} in the VM goes to ${policy.network.gateway}:53, which the firewall redirects to nanopolicy's DNS responder (port ${doors.dns}); it answers NXDOMAIN (no egress line lists the name) and forwards nothing.`);
  }
  if (parsed.host.kind === 'name') notes.push('explain resolves no name: softnet and pf see only the address a name resolves to, in the VM or on the host.');
  if (proxyRoute?.reaches && parsed.host.kind === 'name') notes.push(`The egress proxy resolves ${host} on the host, per connection, and refuses it when it resolves to a private, loopback, link-local, VM-subnet or host address, or when the TLS server name is not ${host}.`);
  if (port === undefined && isGateway(ctx, packet) && (policy.bridges.length || proxy)) {
    const open = [...(policy.bridges.length ? [`the bridge ports ${policy.bridges.map((b) => b.listen).join(', ')}`] : []), ...(proxy ? [`the egress proxy's port ${proxy.listen}`] : [])];
    notes.push(`On the gateway, only ${open.join(' and ')} (and DHCP, UDP 67) are open to the VM.`);
  }
  // A name nothing lets through: say what line would (a bridge is for internal endpoints; a name on
  // the internet goes through the proxy), so the owner is not left to guess the statement.
  const reached = direct.reaches || bridgeRoutes.some((r) => r.reaches) || proxyRoute?.reaches === true || transparentRoute?.reaches === true;
  if (!reached && parsed.host.kind === 'name') {
    const label = host.split('.').slice(-2, -1)[0]?.toLowerCase().replace(/[^a-z0-9-]/g, '') || 'web';
    const name = /^[a-z]/.test(label) ? label : `web-${label}`;
    notes.push(`To let the VM reach it by name over HTTPS, add the line "egress ${name} ${host}${port !== undefined && port !== 443 ? `:${port}` : ''}" (enforce then runs a proxy for it, which checks every address the name resolves to and the TLS server name); an internal service is an "allow … via PORT" bridge instead.`);
  }
  const summary = summarize(ctx, target, direct, bridgeRoutes, viaBridges.map((b) => b.span.line), proxyRoute, transparentRoute);
  return { target, kind: parsed.kind, summary, routes: [direct, ...bridgeRoutes, ...(transparentRoute ? [transparentRoute] : []), ...(proxyRoute ? [proxyRoute] : [])], notes };
}

function blockedBy(r: Route): string {
  return r.layers
    .filter((l) => l.verdict === 'block')
    .map((l) => {
      const detail = [l.brief, l.artifactLine ? `${l.artifactLine.artifact}:${l.artifactLine.line}` : undefined].filter(Boolean).join(', ');
      return l.layer === 'bridge' ? (l.brief ?? 'no bridge') : `${l.layer}${detail ? ` (${detail})` : ''}`;
    })
    .join(' and ');
}

// The one-sentence answer: direct, else through bridges or the egress proxy, else why not.
function summarize(ctx: ExplainContext, target: string, direct: Route, bridges: Route[], lines: number[], proxy: Route | undefined, transparent?: Route): string {
  const open = bridges.filter((r) => r.reaches);
  const ways = open.map((r, i) => `as ${r.as} through the bridge "${r.name.slice('bridge '.length)}" (policy line ${lines[bridges.indexOf(r)] ?? lines[i]})`);
  if (transparent?.reaches) ways.push(`by name through the transparent door on ${transparent.as} (the name resolves to the gateway in the VM; TLS server name checked)`);
  const proxyLayer = proxy?.layers.find((l) => l.layer === 'proxy');
  if (proxy?.reaches && proxyLayer) {
    const rule = ctx.policy.egress.find((e) => e.span.line === proxyLayer.policyLine);
    ways.push(`by name through the egress proxy on ${proxy.as}${rule ? ` (egress "${rule.name}", policy line ${rule.span.line})` : ''}`);
  }
  // Why the proxy is no way there, when it is none.
  const refused = proxy && !proxy.reaches ? `; ${proxyLayer?.verdict === 'block' ? proxyLayer.brief : `the way to the egress proxy is blocked by ${blockedBy(proxy)}`}` : '';
  if (direct.reaches) {
    const last = direct.layers[direct.layers.length - 1];
    if (last?.layer === 'dns') return `${target} is open to the VM: nanopolicy's DNS responder answers there, only the policy's names (with the gateway) and NXDOMAIN for the rest, forwarding nothing.`;
    if (last?.layer === 'proxy') return `${target} is open to the VM: the egress proxy listens there (policy lines ${ctx.policy.egress.map((e) => e.span.line).join(', ')}).`;
    const fwd = direct.layers.find((l) => l.layer === 'bridge' && l.verdict === 'pass');
    const b = fwd ? ctx.policy.bridges.find((x) => x.span.line === fwd.policyLine) : undefined;
    return b
      ? `${target} is open to the VM: the bridge "${b.name}" (policy line ${b.span.line}) forwards it to ${targetText(b)}.`
      : `${target} is reachable from the VM directly.`;
  }
  if (ways.length > 0) return `${target} is reachable only ${ways.join(', or ')}; directly it is blocked by ${blockedBy(direct)}${refused}.`;
  return `${target} is not reachable from the VM: blocked by ${blockedBy(direct)}${refused}.`;
}
