// What enforce leaves behind for a later `enforce`, `--down` or `--supervise`: one JSON file per VM
// in the state directory, written atomically after every step so a crash never loses a pid or token.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { homeDir } from '../lazy-builtins.ts';

export type Backend = 'pf' | 'nft';

export interface BridgeState {
  name: string;
  pid: number;
  listen: number;
  /** The `range=` the bridge was started with. */
  range: string;
  /** The address socat connects to: the target as written, or what its name resolved to then. */
  target?: string;
  argv: string[];
}

/** The egress proxy enforce started (src/enforce/proxy-step.ts). */
export interface ProxyState {
  pid: number;
  listen: { host: string; port: number };
  /** The allowClients it was started with (the VM's /32 once known). */
  allowClients: string[];
  /** The config file it reads, in the state directory. */
  config: string;
  auditLog: string;
  argv: string[];
}

/** The firewall-log collector enforce started (src/enforce/firewall-log-step.ts). */
export interface FirewallLogState {
  pid: number;
  /** What tcpdump reads: nflog:GROUP or pflog0. */
  source: string;
  /** The JSON-lines file it writes, beside the proxy's audit log. */
  out: string;
  argv: string[];
}

export interface EnforceState {
  format: 1;
  backend: Backend;
  vm: string;
  policyFile: string;
  policySha256: string;
  /** sha256 of the rules as loaded (anchor text or nft ruleset, interface slot filled). */
  rulesSha256?: string;
  /** pf: where the anchor lives; nft: the table. */
  rulesName: string;
  /** pf reference tokens we hold (released with `pfctl -X`). */
  tokens: string[];
  iface?: string;
  vmAddress?: string;
  /** Set only when enforce started the VM itself: only then may it stop it. */
  vmPid?: number;
  vmStarted: boolean;
  /** The snapshot this run took before starting the VM (`snapshot keep N`). */
  snapshot?: string;
  bridges: BridgeState[];
  /** The egress proxy, when the policy lists egress and it was started. */
  proxy?: ProxyState;
  /** The firewall-log collector (refused packets for `nanopolicy log`), when started. */
  firewallLog?: FirewallLogState;
  /** Step ids completed, in order. */
  completed: string[];
  /** True once every step ran: a later enforce may then be a no-op. */
  complete: boolean;
}

// A fresh, empty state for a VM.
export function emptyState(backend: Backend, vm: string, policyFile: string, policySha256: string, rulesName: string): EnforceState {
  return { format: 1, backend, vm, policyFile, policySha256, rulesName, tokens: [], vmStarted: false, bridges: [], completed: [], complete: false };
}

// Where state lives unless --state-dir says otherwise: root gets /var/run, others their runtime dir.
export function defaultStateDir(vm: string, env: NodeJS.ProcessEnv, uid: number | undefined): string {
  if (uid === 0) return join('/var/run/nanopolicy', vm);
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'nanopolicy', vm);
  return join(env.HOME ?? homeDir(), '.nanopolicy', 'run', vm);
}

export function statePath(dir: string): string {
  return join(dir, 'state.json');
}

// Creates the state directory, private to the owner (it holds pf tokens and pids).
export function ensureStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

// Reads the state, or undefined when there is none; a corrupt file is an error, never ignored.
export function readState(dir: string): EnforceState | undefined {
  const path = statePath(dir);
  if (!existsSync(path)) return undefined;
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as EnforceState;
  if (parsed.format !== 1) throw new Error(`${path}: unknown state format`);
  return parsed;
}

// Writes the state atomically (temp file + rename), mode 0600.
export function writeState(dir: string, state: EnforceState): void {
  const path = statePath(dir);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

// Removes the state file and the saved rules copy (the directory and lock stay with their owner).
export function removeState(dir: string): void {
  rmSync(statePath(dir), { force: true });
  rmSync(join(dir, 'rules.loaded'), { force: true });
}

export function loadedRulesPath(dir: string): string {
  return join(dir, 'rules.loaded');
}

export function bridgeLogPath(dir: string, name: string): string {
  return join(dir, `bridge-${name}.log`);
}

export function proxyConfigPath(dir: string): string {
  return join(dir, 'proxy.json');
}

export function proxyLogPath(dir: string): string {
  return join(dir, 'proxy.log');
}

/** The proxy's audit log: one JSON line per decision (what `nanopolicy log` reads). */
export function proxyAuditPath(dir: string): string {
  return join(dir, 'proxy-audit.jsonl');
}

/** What the firewall refused from the VM, counted (door "firewall"): beside the audit log. */
export function firewallLogPath(dir: string): string {
  return join(dir, 'firewall-refused.jsonl');
}

export function firewallCollectorLogPath(dir: string): string {
  return join(dir, 'firewall-log.log');
}
