// `nanopolicy verify POLICY` on the host: the host's own checks (firewall loaded as compiled, bridges
// alive and bound to the gateway only), canaries on the gateway, and the probes run inside the VM.
// Returns every row; the CLI prints them.

import dns from 'node:dns';
import net from 'node:net';
import type { Policy } from '../../compiler/policy.ts';
import type { VerifyManifest } from '../manifest.ts';
import type { InsideOptions, InsideStats, ProbeResult } from '../inside/result.ts';
import { DEFAULT_BUDGET_MS, PROBE_GROUPS } from '../inside/run-probes.ts';
import { runCommand, type RunCommand } from './run-command.ts';
import { checkNftTable } from './nft-table.ts';
import { checkPf, type PfCheckOptions } from './pf-anchor.ts';
import { checkBridgeProcesses } from './bridge-processes.ts';
import { openCanaries } from './canaries.ts';
import { runInside } from './run-inside.ts';
import { hostRow } from './host-result.ts';
import { randomBytes } from 'node:crypto';
import { checkAudit, checkProxyProcess, markAudit } from './egress-proxy-host.ts';

export type Backend = 'pf' | 'nft' | 'none';

export interface VerifyHostOptions {
  policy: Policy;
  manifest: VerifyManifest;
  backend: Backend;
  /** argv before `node -` that runs a command in the VM. */
  exec: readonly string[];
  inside: InsideOptions;
  pf?: PfCheckOptions;
  run?: RunCommand;
  probeCode?: string;
  /** enforce's state directory: the proxy's pid and audit log (needed when the policy lists egress). */
  stateDir?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface VerifyReport {
  results: ProbeResult[];
  inside?: InsideStats;
  totalMs: number;
}

// Everything, in report order: host checks, the VM's rows, then the canaries (the host's evidence).
export async function verifyHost(o: VerifyHostOptions): Promise<VerifyReport> {
  const started = performance.now();
  const run = o.run ?? runCommand;
  const canaries = await openCanaries(o.manifest.gateway, o.manifest.gatewaySweep.except);
  // Egress: this run's nonce names the probe's invented names; the audit log is read from here on.
  const probeEgress = o.manifest.egress !== undefined && !o.inside.skip?.includes('proxy');
  const nonce = o.inside.egressNonce ?? randomBytes(6).toString('hex');
  const mark = probeEgress && o.stateDir ? markAudit(o.stateDir) : undefined;
  let insideRows: ProbeResult[];
  let insideStats: InsideStats | undefined;
  const [hostRows, inside] = await Promise.all([
    hostChecks(o, run),
    (async () => {
      try {
        // Only the direct-target probe needs the names resolved: no lookup when it is skipped.
        const resolvedTargets = o.inside.skip?.includes('direct') ? {} : await resolveTargets(o.manifest);
        const resolvedEgress = probeEgress ? await resolveEgress(o.manifest) : {};
        const budgetMs = o.inside.budgetMs ?? DEFAULT_BUDGET_MS;
        return await runInside(
          {
            manifest: o.manifest,
            options: {
              ...o.inside,
              resolvedTargets: { ...resolvedTargets, ...o.inside.resolvedTargets },
              ...(probeEgress ? { egressNonce: nonce, resolvedEgress: { ...resolvedEgress, ...o.inside.resolvedEgress } } : {}),
            },
          },
          { prefix: o.exec, timeoutMs: budgetMs + 30_000, ...(o.probeCode ? { probeCode: o.probeCode } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) },
        );
      } catch (e) {
        return e as Error;
      }
    })(),
  ]);
  const canaryRows = await canaries.close();
  const auditRows = !probeEgress || inside instanceof Error
    ? []
    : mark
      ? await checkAudit(o.policy, mark, nonce)
      : [hostRow('audit log of the egress proxy', 'read', 'NO STATE DIR', false, 0, 'the policy lists egress but verify was given no state directory, so the proxy\'s audit log cannot back the VM\'s report')];
  if (inside instanceof Error) {
    insideRows = [hostRow('probes inside the VM', 'ran', 'FAILED', false, 0, `could not run the probes inside the VM: ${inside.message}`)];
  } else {
    insideRows = [...inside.results, ...completeness(inside.results, o.inside.skip ?? [])];
    insideStats = inside.stats;
  }
  return { results: [...hostRows, ...insideRows, ...auditRows, ...canaryRows], ...(insideStats ? { inside: insideStats } : {}), totalMs: Math.round(performance.now() - started) };
}

async function hostChecks(o: VerifyHostOptions, run: RunCommand): Promise<ProbeResult[]> {
  const firewall =
    o.backend === 'nft' ? checkNftTable(o.policy, run) : o.backend === 'pf' ? checkPf(o.policy, run, o.pf) : Promise.resolve<ProbeResult[]>([]);
  const proxy = o.policy.proxy && o.stateDir ? checkProxyProcess(o.policy, o.stateDir, run) : Promise.resolve<ProbeResult[]>([]);
  const [fw, bridges, proxyRows] = await Promise.all([firewall, checkBridgeProcesses(o.policy, run), proxy]);
  return [...fw, ...bridges, ...proxyRows];
}

// A report missing a probe group is no proof: a forged or truncated report fails here.
function completeness(results: readonly ProbeResult[], skipped: readonly string[]): ProbeResult[] {
  const seen = new Set(results.map((r) => r.group));
  const required = PROBE_GROUPS.filter((g) => !skipped.includes(g) && (g === 'gateway' || g === 'dns' || g === 'mounts'));
  return required
    .filter((g) => !seen.has(g))
    .map((g) => hostRow(`VM report: ${g} rows`, 'present', 'MISSING', false, 0, `the VM's report has no ${g} rows: it is incomplete or forged`));
}

// The host resolves each listed egress name, so the VM can dial its addresses without the proxy.
async function resolveEgress(manifest: VerifyManifest): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const n of manifest.egress?.names ?? []) {
    if (n.wildcard || out[n.host]) continue;
    try {
      out[n.host] = (await dns.promises.lookup(n.host, { all: true })).map((a) => a.address);
    } catch {
      out[n.host] = [];
    }
  }
  return out;
}

// The host resolves bridge target names (the VM cannot: no DNS) so the VM can dial them directly.
async function resolveTargets(manifest: VerifyManifest): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const d of manifest.direct) {
    if (net.isIP(d.host) || out[d.host]) continue;
    try {
      out[d.host] = (await dns.promises.lookup(d.host, { all: true })).map((a) => a.address);
    } catch {
      out[d.host] = [];
    }
  }
  return out;
}
