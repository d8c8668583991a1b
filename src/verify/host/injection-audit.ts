// The injection probes as the host's proxy logged them (issue 23): each injected request the VM
// made needs an "injected-request" record for its name, method and path with the upstream's 2xx,
// and each gateway probe a "websocket-open" record. The records are written by the proxy on the
// host, from what the upstream answered: a VM that reports "200" for a request the upstream
// refused, or never made, fails here.

import type { VerifyManifest } from '../../formats/verify-manifest.ts';
import type { ProbeResult } from '../inside/result.ts';
import { pathOnly } from '../../inject/inject-audit.ts';
import type { AuditMark } from './egress-proxy-host.ts';
import { readRecords } from './read-audit-log.ts';
import { hostRow } from './host-result.ts';
import { chosenRequest } from '../inside/injection.ts';

type Inject = NonNullable<VerifyManifest['inject']>;

/** What the VM's injection probes will do through the CONNECT door (src/verify/inside/injection.ts). */
export interface InjectionProbePlan {
  requests: Array<{ host: string; port: number; method: string; path: string }>;
  websockets: Array<{ host: string; port: number; path: string }>;
  /** The listed names the probe only opens TLS to, and the echo: CONNECTs with no injected record. */
  connectsOnly: Array<{ host: string; port: number }>;
}

export interface PlanInput {
  inject: Inject | undefined;
  /** The probes run only with the proxy's CA; without it their rows are NOT RUN and nothing is sent. */
  haveCa: boolean;
  skipped: boolean;
  /** verify --inject-request HOST=METHOD/PATH. */
  injectRequests?: Readonly<Record<string, string>>;
  /** verify --inject-echo HOST:PORT/PATH. */
  injectEcho?: string;
}

// The same choices the probe makes: a request where a method and path are known (or given), a
// WebSocket per gateway, one TLS handshake per plain name, the echo when given.
export function injectionProbePlan(p: PlanInput): InjectionProbePlan {
  const plan: InjectionProbePlan = { requests: [], websockets: [], connectsOnly: [] };
  if (!p.inject || p.skipped) return plan;
  if (p.haveCa) {
    for (const r of p.inject.requests) {
      const { method, path } = chosenRequest(r, p.injectRequests);
      if (method !== undefined && path !== undefined) plan.requests.push({ host: r.host, port: r.port, method, path });
    }
    for (const w of p.inject.websockets ?? []) plan.websockets.push({ host: w.host, port: w.port, path: w.path });
    for (const n of p.inject.plain) plan.connectsOnly.push({ host: n.host, port: n.port });
  }
  const echo = /^([A-Za-z0-9.-]+):(\d+)\//.exec(p.injectEcho ?? '');
  if (echo) plan.connectsOnly.push({ host: echo[1]!, port: Number(echo[2]) });
  return plan;
}

// The CONNECTs the plan makes to listed names ("host:port" → count), for the audit check of attempts.
export function plannedConnects(plan: InjectionProbePlan): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of [...plan.requests, ...plan.websockets, ...plan.connectsOnly]) out[`${e.host}:${e.port}`] = (out[`${e.host}:${e.port}`] ?? 0) + 1;
  return out;
}

interface InjectRecord {
  kind?: string;
  name?: string;
  method?: string;
  path?: string;
  status?: number;
}

// One row per planned request and WebSocket, read from the audit log after `mark` (waiting up to
// waitMs for the proxy's lines).
export async function checkInjectionAudit(plan: InjectionProbePlan, mark: AuditMark, waitMs = 2000): Promise<ProbeResult[]> {
  if (plan.requests.length === 0 && plan.websockets.length === 0) return [];
  const started = performance.now();
  const requestHits = (records: InjectRecord[], r: InjectionProbePlan['requests'][number]) =>
    records.filter((x) => x.kind === 'injected-request' && x.name === r.host && x.method === r.method && x.path === pathOnly(r.path));
  const socketHits = (records: InjectRecord[], w: InjectionProbePlan['websockets'][number]) =>
    records.filter((x) => x.kind === 'websocket-open' && x.name === w.host && x.path === pathOnly(w.path));
  const accepted = (x: InjectRecord) => typeof x.status === 'number' && x.status >= 200 && x.status < 300;
  let records: InjectRecord[] = [];
  for (let waited = 0; ; waited += 100) {
    records = readRecords(mark.path, mark.offset).records as unknown as InjectRecord[];
    const complete = plan.requests.every((r) => requestHits(records, r).some(accepted)) && plan.websockets.every((w) => socketHits(records, w).length > 0);
    if (complete || waited >= waitMs) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const ms = performance.now() - started;
  const rows: ProbeResult[] = [];
  for (const r of plan.requests) {
    const probe = `audit log: ${r.method} ${r.host}${pathOnly(r.path)} injected`;
    const hits = requestHits(records, r);
    if (hits.some(accepted)) {
      rows.push(hostRow(probe, 'logged, 2xx upstream', `logged, ${hits.find(accepted)!.status}`, true, ms));
    } else if (hits.length > 0) {
      const status = String(hits[0]!.status);
      rows.push(hostRow(probe, 'logged, 2xx upstream', `logged, ${status}`, false, ms, `the proxy logged ${r.method} ${r.host}${pathOnly(r.path)} with the credential added, and the upstream answered ${status}: it did not accept the credential`));
    } else {
      rows.push(hostRow(probe, 'logged, 2xx upstream', 'NOT LOGGED', false, ms, `the proxy's audit log holds no injected ${r.method} ${r.host}${pathOnly(r.path)} for this run: the VM's report of that request is not backed by the host`));
    }
  }
  for (const w of plan.websockets) {
    const probe = `audit log: WebSocket to ${w.host} opened through the injecting layer`;
    const opened = socketHits(records, w).length > 0;
    rows.push(hostRow(probe, 'logged', opened ? 'logged' : 'NOT LOGGED', opened, ms, `the proxy's audit log holds no WebSocket opened to ${w.host} for this run: the VM's report of the gateway is not backed by the host`));
  }
  return rows;
}
