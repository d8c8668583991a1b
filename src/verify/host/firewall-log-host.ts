// The firewall's log, from the host: every address the VM's probe dialled directly (each listed
// name's addresses, as the host resolved them) was refused by the firewall *and* shows in the
// collector's file (door "firewall"), so `nanopolicy log --refused` would have told the owner.
// A blocked attempt nobody can see is the failure issue 22 is about.

import { existsSync, statSync } from 'node:fs';
import { firewallLogPath, readState } from '../../formats/enforce-state.ts';
import type { AuditRecord } from '../../formats/proxy-config.ts';
import type { ProbeResult } from '../inside/result.ts';
import { hostRow } from './host-result.ts';
import { readRecords } from './read-audit-log.ts';

/** Where the firewall log stood before the probes ran. */
export interface FirewallLogMark {
  path: string;
  offset: number;
  /** The state recorded a collector (enforce started one). */
  collector: boolean;
}

// Marks the firewall log's end before the probes run.
export function markFirewallLog(stateDir: string): FirewallLogMark {
  const path = firewallLogPath(stateDir);
  let collector = false;
  try {
    collector = readState(stateDir)?.firewallLog !== undefined;
  } catch {
    collector = false;
  }
  return { path, offset: existsSync(path) ? statSync(path).size : 0, collector };
}

// One row per directly dialled address: logged as a refused direct attempt since the mark. The
// collector writes every 2 s and the kernel hands logged packets over about once a second, so
// this waits up to `waitMs` for the last of them.
export async function checkFirewallLog(mark: FirewallLogMark, direct: ReadonlyArray<{ host: string; port: number; label: string }>, waitMs = 6000): Promise<ProbeResult[]> {
  if (direct.length === 0) return [];
  const started = performance.now();
  if (!mark.collector) {
    return [hostRow('firewall log: direct attempts recorded', 'collector running', 'NO COLLECTOR', false, 0,
      'enforce recorded no firewall-log collector, so a client that goes around the doors would not show in "nanopolicy log"')];
  }
  const seen = (records: AuditRecord[], e: { host: string; port: number }) => records.some((r) => r.door === 'firewall' && r.name === e.host && r.port === e.port);
  let records: AuditRecord[] = [];
  for (let waited = 0; ; waited += 200) {
    records = readRecords(mark.path, mark.offset).records;
    if (direct.every((e) => seen(records, e)) || waited >= waitMs) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const ms = performance.now() - started;
  return direct.map((e) => seen(records, e)
    ? hostRow(`firewall log: ${e.host}:${e.port} (${e.label}) dialled directly`, 'logged, refused', 'logged, refused', true, ms)
    : hostRow(`firewall log: ${e.host}:${e.port} (${e.label}) dialled directly`, 'logged, refused', 'NOT LOGGED', false, ms,
      `the VM dialled ${e.host}:${e.port} directly and the firewall refused it, but ${mark.path} has no record of it: "nanopolicy log --refused" would not show it`));
}
