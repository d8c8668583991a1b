// The egress proxy, from the host: the process enforce recorded is ours (pid from the state, its
// command line naming our config) and listens on the gateway only; and the proxy's audit log holds
// exactly the attempts this run's probe makes — evidence written by the host, which the VM's
// report cannot forge: a VM claiming "TLS ok" for a name the proxy never let through fails here.

import { existsSync, statSync } from 'node:fs';
import type { Policy } from '../../compiler/policy.ts';
import { parseCidr4 } from '../../compiler/effective-network.ts';
import { inCidr, parseIpv4 } from '../../net/ipv4.ts';
import { readState, proxyAuditPath, proxyConfigPath } from '../../formats/enforce-state.ts';
import type { AuditRecord } from '../../formats/proxy-config.ts';
import { readRecords } from './read-audit-log.ts';
import { probeNames } from '../inside/egress-proxy.ts';
import type { ProbeResult } from '../inside/result.ts';
import { hostRow } from './host-result.ts';
import { egressDoors } from '../../compiler/egress-doors.ts';
import { doorProbeName } from '../inside/transparent-door.ts';
import { listTcpListeners, processArgs } from '../../host/listeners.ts';
import type { RunCommand } from '../../host/run-command.ts';

// One row: the proxy enforce started is alive, ours, and bound to the gateway only.
export async function checkProxyProcess(policy: Policy, stateDir: string, run: RunCommand): Promise<ProbeResult[]> {
  if (!policy.proxy) return [];
  const started = performance.now();
  const ms = () => performance.now() - started;
  const where = `${policy.network.gateway}:${policy.proxy.listen}`;
  const probe = `egress proxy on ${where}`;
  const expected = `ours, on ${policy.network.gateway} only`;
  let state;
  try {
    state = readState(stateDir);
  } catch (e) {
    return [hostRow(probe, expected, 'state unreadable', false, ms(), `cannot read the enforce state in ${stateDir}: ${(e as Error).message}`)];
  }
  const entry = state?.proxy;
  if (!entry) return [hostRow(probe, expected, 'NOT STARTED', false, ms(), `no egress proxy is recorded in ${stateDir}: was the policy enforced (enforce --state-dir)?`)];
  const args = await processArgs(entry.pid, run);
  const config = proxyConfigPath(stateDir);
  const ours = args !== undefined && args.some((a) => a.endsWith('proxy.js')) && args.includes('--config') && args.includes(config);
  if (!ours) {
    return [hostRow(probe, expected, args ? `pid ${entry.pid}: ${args.join(' ')}` : `pid ${entry.pid} gone`, false, ms(), `the egress proxy (pid ${entry.pid}) is not running, or that pid is another program now`)];
  }
  const mine = (await listTcpListeners(run)).filter((l) => l.pid === entry.pid);
  // The proxy's own port and its doors' (the transparent doors and the DNS responder's TCP side).
  const doors = egressDoors(policy);
  const ports = new Set([policy.proxy.listen, ...(doors ? [...doors.transparent.map((d) => d.listen), doors.dns] : [])]);
  const wide = mine.filter((l) => l.address !== policy.network.gateway || !ports.has(l.port));
  if (!mine.some((l) => l.address === policy.network.gateway && l.port === policy.proxy!.listen)) {
    return [hostRow(probe, expected, 'NOT LISTENING', false, ms(), `the egress proxy (pid ${entry.pid}) does not listen on ${where}`)];
  }
  if (wide.length > 0) {
    const list = wide.map((l) => `${l.address}:${l.port}`).join(', ');
    return [hostRow(probe, expected, `listening on ${list}`, false, ms(), `the egress proxy listens on ${list}, not only on ${where}: it faces more than the VM`)];
  }
  return [hostRow(probe, expected, `proxy[${entry.pid}] on ${policy.network.gateway}`, true, ms())];
}

/** Where the audit log stood before the probe ran. */
export interface AuditMark {
  path: string;
  offset: number;
}

// Marks the audit log's end before the probe runs, so only this run's lines are read after.
export function markAudit(stateDir: string): AuditMark {
  const path = proxyAuditPath(stateDir);
  return { path, offset: existsSync(path) ? statSync(path).size : 0 };
}

interface Expected {
  label: string;
  /** How many times it must be logged (default once). */
  times?: number;
  decision: AuditRecord['decision'];
  matches(r: AuditRecord): boolean;
}

// The attempts this run's probe makes, as the proxy must have logged them. `more` counts the
// injection probes' extra CONNECTs to a listed name ("host:port" → how many; they use the CONNECT door).
export function expectedAttempts(policy: Policy, nonce: string, more: Readonly<Record<string, number>> = {}): Expected[] {
  const exact = policy.egress.flatMap((r) => r.hosts.filter((h) => !h.wildcard));
  const names = probeNames(nonce);
  // The CONNECT door's records carry no door (older proxies) or "connect".
  const connectDoor = (r: AuditRecord) => r.door === undefined || r.door === 'connect';
  const out: Expected[] = exact.map((h) => ({
    label: `${h.host}:${h.port} allowed`,
    times: 1 + (more[`${h.host}:${h.port}`] ?? 0),
    decision: 'allowed' as const,
    matches: (r) => connectDoor(r) && r.name === h.host && r.port === h.port && r.decision === 'allowed' && (r.sni === undefined || r.sni === h.host),
  }));
  out.push({ label: `${names.unlisted}:443 refused`, decision: 'refused', matches: (r) => connectDoor(r) && r.name === names.unlisted && r.decision === 'refused' });
  const first = exact[0];
  if (first) {
    out.push({
      label: `${first.host}:${first.port} with TLS name ${names.sni} refused`,
      decision: 'refused',
      matches: (r) => connectDoor(r) && r.name === first.host && r.port === first.port && r.sni === names.sni && r.decision === 'refused',
    });
  }
  // The transparent door's attempts (transparent-door.ts): each exact name on a door port, and
  // the invented TLS name on the first one.
  const doors = egressDoors(policy);
  if (doors) {
    const ports = new Set(doors.transparent.map((d) => d.port));
    const through = exact.filter((h) => ports.has(h.port));
    for (const h of through) {
      out.push({
        label: `${h.host}:${h.port} allowed through the transparent door`,
        decision: 'allowed',
        matches: (r) => r.door === 'transparent' && r.name === h.host && r.port === h.port && r.decision === 'allowed',
      });
    }
    const door = doorProbeName(nonce);
    out.push({ label: `TLS name ${door} refused by the transparent door`, decision: 'refused', matches: (r) => r.door === 'transparent' && (r.name === door || r.sni === door) && r.decision === 'refused' });
  }
  return out;
}

// Reads this run's lines (waiting briefly: a tunnel's line is written when it closes) and checks
// each expected attempt appears exactly once, from the VM subnet; other lines from the VM are noted.
export async function checkAudit(policy: Policy, mark: AuditMark, nonce: string, waitMs = 2000, more: Readonly<Record<string, number>> = {}): Promise<ProbeResult[]> {
  const started = performance.now();
  const expected = expectedAttempts(policy, nonce, more);
  const subnet = parseCidr4(policy.network.subnet);
  const injecting = new Set(policy.egress.filter((r) => r.inject || r.websocketToken !== undefined).map((r) => r.name));
  const fromVm = (r: AuditRecord) => {
    // A tunnel's "open" record is followed by its final one; each attempt is counted once, by the
    // latter — except an injecting rule's, counted by its "open": the injecting layer's final
    // record comes only when the client's connection ends, which may be after verify has read.
    if (r.rule !== undefined && injecting.has(r.rule) && r.decision === 'allowed') {
      if (r.event !== 'open') return false;
    } else if (r.event === 'open') return false;
    const ip = parseIpv4(String(r.client).replace(/^::ffff:/, ''));
    return subnet.ok && ip.ok && inCidr(ip.value, subnet.value);
  };
  let records: AuditRecord[] = [];
  for (let waited = 0; ; waited += 100) {
    records = readRecords(mark.path, mark.offset).records.filter(fromVm);
    if (expected.every((e) => records.filter(e.matches).length >= (e.times ?? 1)) || waited >= waitMs) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const ms = performance.now() - started;
  const used = new Set<AuditRecord>();
  const rows = expected.map((e) => {
    const hits = records.filter(e.matches);
    hits.forEach((h) => used.add(h));
    const probe = `audit log: ${e.label}`;
    const times = e.times ?? 1;
    const want = times === 1 ? `logged once, ${e.decision}` : `logged ${times} times, ${e.decision}`;
    if (hits.length === times) return hostRow(probe, want, `logged, ${e.decision}`, true, ms);
    if (hits.length === 0) {
      const other = records.find((r) => e.matches({ ...r, decision: e.decision }));
      const measured = other ? `logged ${other.decision} (${other.reason})` : 'NOT LOGGED';
      return hostRow(probe, want, measured, false, ms, `the proxy's audit log does not show "${e.label}" for this run${other ? `: it logged ${other.decision} (${other.reason})` : ''}; the VM's report of that attempt is not backed by the host`);
    }
    return hostRow(probe, want, `logged ${hits.length} times`, false, ms, `the proxy's audit log shows "${e.label}" ${hits.length} times: ${hits.length > times ? 'more' : 'fewer'} attempts than the probe makes`);
  });
  // DNS queries (the responder's records, door "dns") are not attempts through the proxy: the
  // DNS probe's own query for an unlisted name is among them.
  const extra = records.filter((r) => !used.has(r) && r.door !== 'dns');
  const nonced = extra.filter((r) => r.name.includes(nonce) || (r.sni ?? '').includes(nonce));
  if (nonced.length > 0) {
    rows.push(hostRow('audit log: no other attempt with this run\'s names', 'none', `${nonced.length} more`, false, ms, `the audit log holds ${nonced.length} attempt(s) with this run's invented names that the probe does not make`));
  } else if (extra.length > 0) {
    const list = [...new Set(extra.map((r) => `${r.name}:${r.port} ${r.decision}`))].slice(0, 5).join(', ');
    rows.push({ ...hostRow('audit log: other attempts from the VM during verify', 'none', `${extra.length} more`, true, ms), detail: `the VM made ${extra.length} other attempt(s) through the proxy while verify ran (the agent itself?): ${list}` });
  }
  return rows;
}
