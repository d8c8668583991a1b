// `nanopolicy verify POLICY` on the host: the host's own checks (firewall loaded as compiled, bridges
// alive and bound to the gateway only), canaries on the gateway, and the probes run inside the VM.
// Returns every row; the CLI prints them.

import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Policy } from '../../compiler/policy.ts';
import type { EnforceArtifacts } from '../../compiler/enforce-artifacts.ts';
import type { VerifyManifest } from '../../formats/verify-manifest.ts';
import type { InsideOptions, InsideStats, ProbeResult } from '../inside/result.ts';
import { DEFAULT_BUDGET_MS, DEFAULT_CONNECT_TIMEOUT_MS, PROBE_GROUPS } from '../inside/run-probes.ts';
import { systemLookup } from '../inside/system-lookup.ts';
import { sanitizeText } from '../sanitize-text.ts';
import { runCommand, type RunCommand } from '../../host/run-command.ts';
import { checkNftTable } from './nft-table.ts';
import { checkPf, type PfCheckOptions } from './pf-anchor.ts';
import { checkBridgeProcesses } from './bridge-processes.ts';
import { openCanaries } from './canaries.ts';
import { runInside } from './run-inside.ts';
import { hostRow } from './host-result.ts';
import { checkAudit, checkProxyProcess, markAudit } from './egress-proxy-host.ts';
import { checkFirewallLog, markFirewallLog } from './firewall-log-host.ts';
import { checkReport } from './check-report.ts';
import { readCounters, type FirewallCounters } from './firewall-counters.ts';
import { claimsOf, counterEvidence } from './counter-evidence.ts';
import { checkVmProcesses } from './vm-processes.ts';
import { checkPfPrecedence } from './pf-precedence.ts';
import { CA_CERT_FILE, checkInjectionHost } from './injection-host.ts';
import { checkInjectionAudit, injectionProbePlan, plannedConnects, type InjectionProbePlan } from './injection-audit.ts';
import { dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';

import { proxyAuditPath } from '../../formats/enforce-state.ts';

export type Backend = 'pf' | 'nft' | 'none';

export interface VerifyHostOptions {
  policy: Policy;
  /** The artifacts compiled from `policy` once, by the command: the host is compared with these. */
  artifacts: EnforceArtifacts;
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
  /** Compare the running tart and softnet with the compiled arguments (default true; the lab has no tart). */
  processes?: boolean;
  onProgress?: (done: number, total: number) => void;
  /** The uid the proxy reads secrets as (default: this process's, the owner running verify). */
  ownerUid?: number;
  /** The environment secret sources are read with (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

export interface VerifyReport {
  results: ProbeResult[];
  inside?: InsideStats;
  totalMs: number;
}

// Everything, in report order: host checks, the checks of the VM's report, the VM's rows, then the
// host's evidence (firewall counters, canaries).
export async function verifyHost(o: VerifyHostOptions): Promise<VerifyReport> {
  const started = performance.now();
  const run = o.run ?? runCommand;
  // Fresh per run: a report replayed from an earlier run answers an old challenge.
  const challenge = randomBytes(16).toString('hex');
  const canaries = await openCanaries(o.manifest.gateway, o.manifest.gatewaySweep.except);
  // Egress: this run's nonce names the probe's invented names; the audit log is read from here on.
  const probeEgress = o.manifest.egress !== undefined && !o.inside.skip?.includes('proxy');
  const nonce = o.inside.egressNonce ?? randomBytes(6).toString('hex');
  const mark = probeEgress && o.stateDir ? markAudit(o.stateDir) : undefined;
  const firewallMark = probeEgress && o.stateDir ? markFirewallLog(o.stateDir) : undefined;
  let direct: Array<{ host: string; port: number; label: string }> = [];
  const counted = o.backend === 'pf' || o.backend === 'nft' ? o.backend : undefined;
  const before: FirewallCounters | string | undefined = counted ? await readCounters(o.policy, o.artifacts, counted, run, o.pf?.asRoot) : undefined;
  let insideRows: ProbeResult[];
  let insideStats: InsideStats | undefined;
  const [hostRows, inside] = await Promise.all([
    hostChecks(o, run),
    (async () => {
      try {
        // Only the direct-target probe needs the names resolved: no lookup when it is skipped.
        // The host's resolver answers (it is not caged), but a cold cache over a slow link may take
        // a while: twice the probe timeout, at least 2 s. A name still unresolved then is NOT RUN
        // in the VM's direct row, never a pass.
        const lookupMs = Math.max(2 * (o.inside.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS), 2000);
        const [resolvedTargets, resolvedEgress]: Array<Record<string, string[]>> = await Promise.all([
          o.inside.skip?.includes('direct') ? {} : resolveTargets(o.manifest, lookupMs),
          probeEgress ? resolveEgress(o.manifest, lookupMs) : {},
        ]);
        // The addresses the proxy probe dials without the proxy (egress-proxy.ts): each must show
        // in the firewall's log too.
        const all = { ...resolvedEgress, ...o.inside.resolvedEgress };
        direct = (o.manifest.egress?.names ?? []).filter((n) => !n.wildcard).flatMap((n) => (all[n.host] ?? []).map((a) => ({ host: a, port: n.port, label: n.host })));
        const budgetMs = o.inside.budgetMs ?? DEFAULT_BUDGET_MS;
        return await runInside(
          {
            manifest: o.manifest,
            options: {
              ...o.inside,
              resolvedTargets: { ...resolvedTargets, ...o.inside.resolvedTargets },
              ...(probeEgress ? { egressNonce: nonce, resolvedEgress: { ...resolvedEgress, ...o.inside.resolvedEgress } } : {}),
              ...(o.manifest.inject && o.stateDir && o.inside.proxyCaPem === undefined ? proxyCa(o.stateDir) : {}),
            },
            challenge,
          },
          { prefix: o.exec, timeoutMs: budgetMs + 30_000, ...(o.probeCode ? { probeCode: o.probeCode } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) },
        );
      } catch (e) {
        return e as Error;
      }
    })(),
  ]);
  const after = counted ? await readCounters(o.policy, o.artifacts, counted, run, o.pf?.asRoot) : undefined;
  const canaryRows = await canaries.close();
  const plan = injectionPlan(o);
  const auditRows = !probeEgress || inside instanceof Error
    ? []
    : mark
      ? (await Promise.all([checkAudit(o.policy, mark, nonce, 2000, plannedConnects(plan)), checkInjectionAudit(plan, mark)])).flat()
      : [hostRow('audit log of the egress proxy', 'read', 'NO STATE DIR', false, 0, 'the policy lists egress but verify was given no state directory, so the proxy\'s audit log cannot back the VM\'s report')];
  const firewallRows = firewallMark && !(inside instanceof Error) ? await checkFirewallLog(firewallMark, direct) : [];
  const evidence: ProbeResult[] = [];
  if (inside instanceof Error) {
    insideRows = [hostRow('probes inside the VM', 'ran', 'FAILED', false, 0, `could not run the probes inside the VM: ${sanitizeText(inside.message)}`)];
  } else {
    const checked = checkReport(inside, challenge);
    insideRows = [...checked.problems, ...checked.rows, ...completeness(checked.rows, o.inside.skip ?? [])];
    insideStats = checked.stats;
    if (counted && before !== undefined && after !== undefined) {
      evidence.push({ ...counterEvidence(before, after, claimsOf(checked.rows, o.manifest), counted === 'pf' ? 'pf anchor' : 'nft table'), group: 'canary' });
    }
  }
  return { results: [...hostRows, ...insideRows, ...evidence, ...auditRows, ...firewallRows, ...canaryRows], ...(insideStats ? { inside: insideStats } : {}), totalMs: Math.round(performance.now() - started) };
}

async function hostChecks(o: VerifyHostOptions, run: RunCommand): Promise<ProbeResult[]> {
  const firewall =
    o.backend === 'nft'
      ? checkNftTable(o.policy, o.artifacts, run)
      : o.backend === 'pf'
        ? Promise.all([checkPf(o.policy, o.artifacts, run, o.pf), checkPfPrecedence(o.policy, o.artifacts, run, o.pf?.asRoot)]).then((r) => r.flat())
        : Promise.resolve<ProbeResult[]>([]);
  const proxy = o.policy.proxy && o.stateDir ? checkProxyProcess(o.policy, o.stateDir, run) : Promise.resolve<ProbeResult[]>([]);
  const injection = injectionChecks(o);
  const [fw, bridges, vm, proxyRows, injectionRows] = await Promise.all([firewall, checkBridgeProcesses(o.policy, run), o.processes === false ? [] : checkVmProcesses(o.policy, o.artifacts, run), proxy, injection]);
  return [...fw, ...vm, ...bridges, ...proxyRows, ...injectionRows];
}

// The CA and the secret sources, where the proxy keeps and reads them (its state directory, beside
// the audit log); without a state directory they cannot be found, and that is a failed row.
function injectionChecks(o: VerifyHostOptions): Promise<ProbeResult[]> {
  if (o.policy.secrets.length === 0) return Promise.resolve([]);
  if (!o.stateDir) return Promise.resolve([hostRow('credential injection on the host', 'checked', 'NOT RUN', false, 0, 'the policy injects secrets but verify was given no state directory (--state-dir), so the CA and the sources were not checked')]);
  return checkInjectionHost(o.policy, { caDir: dirname(proxyAuditPath(o.stateDir)), ownerUid: o.ownerUid ?? process.getuid?.() ?? 0, env: o.env ?? process.env });
}

// What the VM's injection probes will send through the proxy: the CONNECTs the audit check of
// attempts expects, and the injected requests and WebSockets the proxy must have logged.
function injectionPlan(o: VerifyHostOptions): InjectionProbePlan {
  const haveCa = o.inside.proxyCaPem !== undefined || (o.stateDir !== undefined && proxyCa(o.stateDir).proxyCaPem !== undefined);
  return injectionProbePlan({
    inject: o.manifest.inject,
    haveCa,
    skipped: o.inside.skip?.includes('inject') ?? false,
    ...(o.inside.injectRequests ? { injectRequests: o.inside.injectRequests } : {}),
    ...(o.inside.injectEcho !== undefined ? { injectEcho: o.inside.injectEcho } : {}),
  });
}

// The proxy's CA certificate (public) for the VM's injection probes; absent, those rows say NOT RUN.
function proxyCa(stateDir: string): { proxyCaPem?: string } {
  try {
    return { proxyCaPem: readFileSync(join(dirname(proxyAuditPath(stateDir)), CA_CERT_FILE), 'utf8') };
  } catch {
    return {};
  }
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
function resolveEgress(manifest: VerifyManifest, timeoutMs: number): Promise<Record<string, string[]>> {
  return resolveAll((manifest.egress?.names ?? []).filter((n) => !n.wildcard).map((n) => n.host), timeoutMs);
}

// The host resolves bridge target names (the VM cannot: no DNS) so the VM can dial them directly.
function resolveTargets(manifest: VerifyManifest, timeoutMs: number): Promise<Record<string, string[]>> {
  return resolveAll(manifest.direct.map((d) => d.host).filter((h) => !net.isIP(h)), timeoutMs);
}

// Every name at once, each through the system resolver in a child killed at the deadline (the
// host's resolver may stall too; its lookup must not hold verify past its budget). A name that
// does not resolve in time gets no addresses, and the VM's row for it says it was not tried.
async function resolveAll(names: readonly string[], timeoutMs: number): Promise<Record<string, string[]>> {
  const unique = [...new Set(names)];
  const answers = await Promise.all(unique.map((name) => systemLookup(name, timeoutMs).catch(() => [] as string[])));
  return Object.fromEntries(unique.map((name, i) => [name, answers[i]!]));
}
