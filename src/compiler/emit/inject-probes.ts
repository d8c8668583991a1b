// What verify sends from inside the VM for credential injection (formats/verify-manifest.ts
// `inject`): per injected name, one cheap authenticated request with the placeholders where the
// client puts its credential; the upstream's 2xx proves the proxy put the real one in. Requests
// for the well-known names are built in; any other name gets its headers only, and its row is
// NOT RUN (a failure) until verify is told a request for it (--inject-request HOST=METHOD/PATH).

import type { Policy } from '../policy.ts';
import type { VerifyManifest } from '../../formats/verify-manifest.ts';

type Inject = NonNullable<VerifyManifest['inject']>;

// A read-only call each service answers only with a valid credential, from each one's API docs:
// Anthropic "List Models", Discord "Get Current User", GitHub "Get the authenticated user"
// (GitHub refuses a request without User-Agent).
export const KNOWN_REQUESTS: Readonly<Record<string, { method: string; path: string; headers: Array<{ name: string; value: string }> }>> = {
  'api.anthropic.com': { method: 'GET', path: '/v1/models', headers: [{ name: 'anthropic-version', value: '2023-06-01' }] },
  'discord.com': { method: 'GET', path: '/api/v10/users/@me', headers: [] },
  'api.github.com': { method: 'GET', path: '/user', headers: [{ name: 'user-agent', value: 'nanopolicy-verify' }, { name: 'accept', value: 'application/vnd.github+json' }] },
};

// Where a known gateway takes its WebSocket (Discord's docs: "wss://gateway.discord.gg/?v=10&encoding=json").
const KNOWN_GATEWAYS: Readonly<Record<string, string>> = { 'gateway.discord.gg': '/?v=10&encoding=json' };

// The manifest's section, or undefined when the policy injects nothing.
export function buildInjectProbes(policy: Pick<Policy, 'egress' | 'secrets'>): Inject | undefined {
  const injecting = policy.egress.filter((r) => r.inject || r.websocketToken !== undefined);
  if (injecting.length === 0) return undefined;
  const placeholder = new Map(policy.secrets.map((s) => [s.name, s.placeholder]));
  const requests: Inject['requests'] = [];
  const unprobed: Inject['unprobed'] = [];
  const websockets: NonNullable<Inject['websockets']> = [];
  for (const rule of injecting) {
    for (const host of rule.hosts) {
      if (host.wildcard) {
        unprobed.push({ rule: rule.name, host: host.host, why: 'a wildcard: no single name stands for it' });
        continue;
      }
      if (!rule.inject) {
        // Why no token: a gateway session logs the bot in and counts against its daily IDENTIFY
        // limit. The WebSocket and the server's HELLO still prove the path through the layer.
        websockets.push({ rule: rule.name, host: host.host, port: host.port, path: KNOWN_GATEWAYS[host.host] ?? '/', secret: rule.websocketToken! });
        continue;
      }
      const known = KNOWN_REQUESTS[host.host];
      // The injected headers as a client holding placeholders sends them.
      const injected = rule.inject.map((i) => ({ name: i.header, value: i.template.map((p) => ('text' in p ? p.text : placeholder.get(p.secret) ?? '')).join('') }));
      requests.push({ rule: rule.name, host: host.host, port: host.port, ...(known ? { method: known.method, path: known.path } : {}), headers: [...(known?.headers ?? []), ...injected] });
    }
  }
  // A gateway's token is proven where the same secret is injected into an HTTP request (discord.com
  // and gateway.discord.gg share the bot token).
  for (const w of websockets) {
    const carrier = requests.find((q) => injecting.find((r) => r.name === q.rule)?.inject?.some((i) => i.template.some((p) => 'secret' in p && p.secret === w.secret)));
    if (carrier) w.provenBy = carrier.host;
  }
  const plain = policy.egress.filter((r) => !r.inject && r.websocketToken === undefined).flatMap((r) => r.hosts.filter((h) => !h.wildcard).map((h) => ({ rule: r.name, host: h.host, port: h.port })));
  return { requests, unprobed, ...(websockets.length ? { websockets } : {}), plain, placeholders: policy.secrets.map((s) => s.placeholder) };
}
