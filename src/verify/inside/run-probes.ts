// Runs every probe inside the VM concurrently, each bounded, all under one overall budget, and
// returns the rows and figures. Prints nothing: main.ts (or the CLI's --inside) does.

import net from 'node:net';
import type { Endpoint, InsideInput, InsideReport, ProbeResult } from './result.ts';
import { TcpScanner } from './tcp-scanner.ts';
import { socketLimit } from './socket-limit.ts';
import { bridgeOpen } from './bridge-open.ts';
import { hostsLine } from './hosts-line.ts';
import { gatewaySweep, type SweepProgress } from './gateway-sweep.ts';
import { directTargets } from './direct-targets.ts';
import { egress } from './egress.ts';
import { dnsProbe } from './dns.ts';
import { icmpProbe } from './icmp.ts';
import { mountsProbe } from './mounts.ts';
import { egressProxy } from './egress-proxy.ts';
import { injectionProbes } from './injection.ts';
import { transparentDoor } from './transparent-door.ts';
import { DEFAULT_DNS_NAME, DEFAULT_DNS_SERVERS, DEFAULT_EGRESS } from './egress-defaults.ts';
import { PROBE_GROUPS } from './probe-groups.ts';

/**
 * How long a probe waits for an answer before it calls the path silent. A blocked path's answer
 * is often silence (Softnet drops in user space), so every such probe waits all of it, and it is
 * the floor of a whole run. 1.2 s: past TCP's first SYN retransmission (1 s, RFC 6298) plus a
 * 200 ms round trip, so one lost SYN on an open path to most of the internet is still seen; DNS
 * and ICMP ask twice, the second time half-way (dns.ts, icmp.ts). `--timeout` widens it.
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 1200;
export const DEFAULT_BUDGET_MS = 180_000;

// All probe groups in report order (probe-groups.ts, which the CLI reads without loading the probes).
export { PROBE_GROUPS };
/** The order the groups start in: a blocked probe's answer is its timeout, so those clocks start first (issue 9). */
const START_ORDER: readonly string[] = ['egress', 'icmp', 'dns', 'direct', 'proxy', 'inject', 'bridges', 'hosts', 'mounts', 'gateway'];

export async function runProbes(input: InsideInput, onProgress?: SweepProgress): Promise<InsideReport> {
  const { manifest, options } = input;
  const started = performance.now();
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  const scanner = new TcpScanner(socketLimit(options.maxSockets), timeoutMs);
  const skip = new Set(options.skip ?? []);
  // An explicit egress list replaces every built-in public target: endpoints, ping and DNS servers.
  const egressList: ReadonlyArray<Endpoint & { label?: string }> = options.egress ?? DEFAULT_EGRESS;
  const dnsServers = [manifest.gateway, ...(options.dnsServers ?? (options.egress ? [] : DEFAULT_DNS_SERVERS))];
  const pingTargets = [...new Set(egressList.map((e) => e.host))].filter((h) => net.isIP(h) && !h.startsWith('fe80:'));
  let sweepMs = 0;
  // The names the proxy injects on present our CA's leaf, which the guest trusts (guest install):
  // the egress probes' "TLS ok" for those names trusts it too.
  const egressCa = [options.caPem, options.proxyCaPem].filter((p): p is string => p !== undefined).join('\n');

  const jobs: Record<(typeof PROBE_GROUPS)[number], () => Promise<ProbeResult[]>> = {
    bridges: () => bridgeOpen(manifest.bridges, { gateway: manifest.gateway, timeoutMs: timeoutMs * 2, ...(options.caPem ? { caPem: options.caPem } : {}) }),
    hosts: () => hostsLine(manifest.hosts, timeoutMs),
    gateway: async () => {
      const r = await gatewaySweep(manifest, scanner, onProgress);
      sweepMs = r.ms;
      return r.results;
    },
    direct: () => directTargets(manifest.direct, options.resolvedTargets ?? {}, scanner, timeoutMs),
    proxy: async () => [
      ...(await egressProxy(manifest.egress, scanner, {
        nonce: options.egressNonce ?? 'unset',
        timeoutMs: timeoutMs * 2,
        resolved: options.resolvedEgress ?? {},
        ...(egressCa ? { caPem: egressCa } : {}),
      })),
      // After the proxy rows, one at a time like them: the doors share the proxy's connection cap.
      ...(await transparentDoor(manifest.egress, {
        gateway: manifest.gateway,
        nonce: options.egressNonce ?? 'unset',
        timeoutMs: timeoutMs * 2,
        ...(egressCa ? { caPem: egressCa } : {}),
      })),
    ],
    // Credential injection: its requests reach the real upstreams through the proxy, one at a time.
    inject: () =>
      injectionProbes(manifest.inject, manifest.egress?.proxy, {
        timeoutMs: timeoutMs * 2,
        ...(options.proxyCaPem ? { proxyCaPem: options.proxyCaPem } : {}),
        ...(options.caPem ? { caPem: options.caPem } : {}),
        ...(options.injectRequests ? { requests: options.injectRequests } : {}),
        ...(options.injectEcho ? { echo: options.injectEcho } : {}),
      }),
    egress: () => egress(egressList, scanner),
    dns: () => dnsProbe({ servers: dnsServers, name: options.dnsName ?? DEFAULT_DNS_NAME, timeoutMs, ...(manifest.egress?.doors ? { responder: manifest.gateway, listed: manifest.egress.names.filter((n) => !n.wildcard).map((n) => n.host) } : {}) }),
    icmp: () => icmpProbe(pingTargets, timeoutMs),
    mounts: () => mountsProbe(options.sharesRoot ?? manifest.sharesRoot, manifest.mounts),
  };

  let budgetTimer: NodeJS.Timeout | undefined;
  const budget = new Promise<'budget'>((resolve) => {
    budgetTimer = setTimeout(() => resolve('budget'), budgetMs);
  });
  const groups = PROBE_GROUPS.filter((g) => !skip.has(g));
  // Started in START_ORDER (the probes that must wait out a timeout first, the sweep's worker
  // threads last, so their start-up does not delay those clocks); reported in PROBE_GROUPS order.
  const running: Record<string, Promise<ProbeResult[]>> = {};
  for (const group of [...groups].sort((a, b) => START_ORDER.indexOf(a) - START_ORDER.indexOf(b))) {
    running[group] = (async (): Promise<ProbeResult[]> => {
      const t0 = performance.now();
      try {
        const r = await Promise.race([jobs[group](), budget]);
        if (r !== 'budget') return r;
        return [unfinished(group, `did not finish within the ${budgetMs} ms budget`, t0)];
      } catch (e) {
        return [unfinished(group, `failed: ${(e as Error).message}`, t0)];
      }
    })();
  }
  const settled = await Promise.all(groups.map((group) => running[group]!));
  clearTimeout(budgetTimer);
  scanner.close();
  return {
    ...(input.challenge !== undefined ? { challenge: input.challenge } : {}),
    results: settled.flat(),
    stats: {
      sweepMs,
      totalMs: Math.round(performance.now() - started),
      maxSocketsOpen: scanner.stats.maxOpen,
      socketLimit: scanner.stats.cap,
      connectAttempts: scanner.stats.attempts,
      engine: scanner.stats.engine,
      peakRssBytes: peakRss(),
    },
  };
}

function unfinished(group: string, why: string, t0: number): ProbeResult {
  return { group, probe: `${group} probes`, expected: 'finished', measured: 'unfinished', ok: false, ms: Math.round(performance.now() - t0), detail: `the ${group} probes ${why}` };
}

// Peak resident set of this process (maxRSS is in KiB), or the current one where unavailable.
function peakRss(): number {
  const ru = process.resourceUsage?.();
  return ru ? ru.maxRSS * 1024 : process.memoryUsage().rss;
}
