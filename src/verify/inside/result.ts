// The records every probe returns, and what the host sends into the VM. Plain data only: this
// file is bundled into the probe that runs inside the VM (Node built-ins only).

import type { VerifyManifest } from '../../formats/verify-manifest.ts';

/** One expectation checked once: the row of the truth table. */
export interface ProbeResult {
  /** bridges, hosts, gateway, direct, egress, dns, icmp, mounts, host, canary. */
  group: string;
  /** What was tried, e.g. "192.168.64.1:18443 (vaultwarden)". */
  probe: string;
  /** open, blocked, closed, resolves-to-gateway, no-answer, present, read-only, writable … */
  expected: string;
  measured: string;
  ok: boolean;
  ms: number;
  /** A plain sentence naming the failure (or why a check was skipped). */
  detail?: string;
  /** false: nothing was tried, because nothing can stand for the expectation (a wildcard name);
   *  the detail says why. Such a row is not wrong, and it is not counted as correct either. */
  probed?: false;
}

export interface Endpoint {
  host: string;
  port: number;
}

/** Options for the probes inside the VM; every default points at the real internet, so tests override all. */
export interface InsideOptions {
  /** Replaces the built-in egress list; its hosts are also the ping targets. */
  egress?: Endpoint[];
  /** Resolvers that must not answer UDP DNS; the gateway is always added. */
  dnsServers?: string[];
  /** A name the system resolver must fail to resolve. */
  dnsName?: string;
  /** PEM bundle trusted for TLS bridges besides the system store (the lab's CA). */
  caPem?: string;
  sharesRoot?: string;
  /** Addresses the host resolved for each bridge's target name (the VM has no DNS to do it). */
  resolvedTargets?: Record<string, string[]>;
  /** This run's nonce for the egress-proxy probe's invented names (the host picks it and finds them in the audit log). */
  egressNonce?: string;
  /** Addresses the host resolved for each listed egress name (to dial them without the proxy). */
  resolvedEgress?: Record<string, string[]>;
  /** The egress proxy's CA (proxy-ca.pem), read by the host: the only root the injection probes trust for injected names. */
  proxyCaPem?: string;
  /** Requests for injected names, replacing the built-in ones or standing in where none is known: host → "METHOD/path". */
  injectRequests?: Record<string, string>;
  /** A listed, non-injected name that reflects requests (the lab's echo server), as "host:port/path". */
  injectEcho?: string;
  /** Per connection attempt. */
  connectTimeoutMs?: number;
  /** For the whole run; probes still running then are reported as unfinished. */
  budgetMs?: number;
  /** Sockets open at once, at most; default derived from the file-descriptor limit. */
  maxSockets?: number;
  /** Probe groups to leave out (e.g. "icmp"). */
  skip?: string[];
}

export interface InsideInput {
  manifest: VerifyManifest;
  options: InsideOptions;
  /** A fresh random value per run; the report must carry it back, so an old report replayed fails. */
  challenge?: string;
}

/** Figures the host prints and the benchmark reads. */
export interface InsideStats {
  sweepMs: number;
  totalMs: number;
  maxSocketsOpen: number;
  socketLimit: number;
  connectAttempts: number;
  engine: string;
  peakRssBytes: number;
}

export interface InsideReport {
  /** The input's challenge, echoed. */
  challenge?: string;
  results: ProbeResult[];
  stats: InsideStats;
}
