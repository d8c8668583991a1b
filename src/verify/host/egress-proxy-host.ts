// The egress proxy, from the host: the process enforce recorded is ours (pid from the state, its
// command line naming our config) and listens on the gateway only; and the proxy's audit log holds
// exactly the attempts this run's probe makes — evidence written by the host, which the VM's
// report cannot forge: a VM claiming "TLS ok" for a name the proxy never let through fails here.

import { existsSync, statSync } from 'node:fs';
import type { Policy } from '../../compiler/policy.ts';
import { parseCidr4 } from '../../compiler/effective-network.ts';
import { inCidr, parseIpv4 } from '../../compiler/net/ipv4.ts';
import { readState, proxyAuditPath, proxyConfigPath } from '../../enforce/state.ts';
import type { AuditRecord } from '../../proxy/config.ts';
import { readRecords } from './read-audit-log.ts';
import { probeNames } from '../inside/egress-proxy.ts';
import type { ProbeResult } from '../inside/result.ts';
import { hostRow } from './host-result.ts';
import { listTcpListeners, processArgs } from './listeners.ts';
import type { RunCommand } from './run-command.ts';

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
  const wide = mine.filter((l) => l.address !== policy.network.gateway || l.port !== policy.proxy!.listen);
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
  decision: AuditRecord['decision'];
  matches(r: AuditRecord): boolean;
}

// The attempts this run's probe makes, as the proxy must have logged them.
export function expectedAttempts(policy: Policy, nonce: string): Expected[] {
  const exact = policy.egress.flatMap((r) => r.hosts.filter((h) => !h.wildcard));
  const names = probeNames(nonce);
  const out: Expected[] = exact.map((h) => ({
    label: `${h.host}:${h.port} allowed`,
    decision: 'allowed' as const,
    matches: (r) => r.name === h.host && r.port === h.port && r.decision === 'allowed' && (r.sni === undefined || r.sni === h.host),
  }));
  out.push({ label: `${names.unlisted}:443 refused`, decision: 'refused', matches: (r) => r.name === names.unlisted && r.decision === 'refused' });
  const first = exact[0];
  if (first) {
    out.push({
      label: `${first.host}:${first.port} with TLS name ${names.sni} refused`,
      decision: 'refused',
      matches: (r) => r.name === first.host && r.port === first.port && r.sni === names.sni && r.decision === 'refused',
    });
  }
  return out;
}

// Reads this run's lines (waiting briefly: a tunnel's line is written when it closes) and checks
// each expected attempt appears exactly once, from the VM subnet; other lines from the VM are noted.
export async function checkAudit(policy: Policy, mark: AuditMark, nonce: string, waitMs = 2000): Promise<ProbeResult[]> {
  const started = performance.now();
  const expected = expectedAttempts(policy, nonce);
  const subnet = parseCidr4(policy.network.subnet);
  const fromVm = (r: AuditRecord) => {
    // A tunnel's "open" record is followed by its final one; each attempt is counted once, by the latter.
    if (r.event === 'open') return false;
    const ip = parseIpv4(String(r.client).replace(/^::ffff:/, ''));
    return subnet.ok && ip.ok && inCidr(ip.value, subnet.value);
  };
  let records: AuditRecord[] = [];
  for (let waited = 0; ; waited += 100) {
    records = readRecords(mark.path, mark.offset).records.filter(fromVm);
    if (expected.every((e) => records.some(e.matches)) || waited >= waitMs) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const ms = performance.now() - started;
  const used = new Set<AuditRecord>();
  const rows = expected.map((e) => {
    const hits = records.filter(e.matches);
    hits.forEach((h) => used.add(h));
    const probe = `audit log: ${e.label}`;
    if (hits.length === 1) return hostRow(probe, `logged once, ${e.decision}`, `logged, ${e.decision}`, true, ms);
    if (hits.length === 0) {
      const other = records.find((r) => e.matches({ ...r, decision: e.decision }));
      const measured = other ? `logged ${other.decision} (${other.reason})` : 'NOT LOGGED';
      return hostRow(probe, `logged once, ${e.decision}`, measured, false, ms, `the proxy's audit log does not show "${e.label}" for this run${other ? `: it logged ${other.decision} (${other.reason})` : ''}; the VM's report of that attempt is not backed by the host`);
    }
    return hostRow(probe, `logged once, ${e.decision}`, `logged ${hits.length} times`, false, ms, `the proxy's audit log shows "${e.label}" ${hits.length} times: more attempts than the probe makes`);
  });
  const extra = records.filter((r) => !used.has(r));
  const nonced = extra.filter((r) => r.name.includes(nonce) || (r.sni ?? '').includes(nonce));
  if (nonced.length > 0) {
    rows.push(hostRow('audit log: no other attempt with this run\'s names', 'none', `${nonced.length} more`, false, ms, `the audit log holds ${nonced.length} attempt(s) with this run's invented names that the probe does not make`));
  } else if (extra.length > 0) {
    const list = [...new Set(extra.map((r) => `${r.name}:${r.port} ${r.decision}`))].slice(0, 5).join(', ');
    rows.push({ ...hostRow('audit log: other attempts from the VM during verify', 'none', `${extra.length} more`, true, ms), detail: `the VM made ${extra.length} other attempt(s) through the proxy while verify ran (the agent itself?): ${list}` });
  }
  return rows;
}
