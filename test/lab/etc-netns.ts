// Per-namespace /etc/hosts and /etc/resolv.conf: `ip netns exec` bind-mounts every file in
// /etc/netns/<ns>/ over the same name in /etc for the command it runs.

import { closeSync, constants, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { assertLabAddress } from './address-plan.ts';

// Writes /etc/netns/<ns>/hosts with localhost plus `map` (name → lab address).
// Written in place (same inode), so processes already running see the new lines too.
export function writeNetnsHosts(ns: string, map: Record<string, string>): void {
  const lines = ['127.0.0.1 localhost', '::1 localhost ip6-localhost ip6-loopback'];
  for (const [name, address] of Object.entries(map).sort(([a], [b]) => a.localeCompare(b))) {
    if (!/^[A-Za-z0-9.-]+$/.test(name)) throw new Error(`Bad host name "${name}".`);
    lines.push(`${assertLabAddress(address, `address for "${name}"`)} ${name}`);
  }
  writeNetnsFile(ns, 'hosts', `${lines.join('\n')}\n`);
}

// Writes /etc/netns/<ns>/resolv.conf naming only lab resolvers, so nothing in the lab ever asks
// the machine's real resolver (whose address is not a lab address). The lab's default wait is
// short (1 s, once); a test of a stalled resolver asks for the system's own (5 s, twice).
export function writeNetnsResolvConf(ns: string, servers: string[], wait: { timeoutS: number; attempts: number } = { timeoutS: 1, attempts: 1 }): void {
  const lines = servers.map((s) => `nameserver ${assertLabAddress(s, 'resolver')}`);
  writeNetnsFile(ns, 'resolv.conf', `${lines.join('\n')}\noptions timeout:${wait.timeoutS} attempts:${wait.attempts}\n`);
}

// Writes one file under /etc/netns/<ns>/.
function writeNetnsFile(ns: string, file: string, text: string): void {
  const dir = join('/etc/netns', ns);
  mkdirSync(dir, { recursive: true });
  rewriteInPlace(join(dir, file), text);
}

/**
 * Replaces a file's text in place (same inode: `ip netns exec` bind-mounted that inode into the
 * processes already running) without ever leaving it empty: the new text is written over the old
 * from the start, then the rest cut off. writeFileSync truncates first, and a lookup in that moment
 * finds no line at all: a supervisor watching the name then takes its bridge down for "does not
 * resolve", and never logs the reason the test waits for (the likely cause of one CI failure).
 */
export function rewriteInPlace(path: string, text: string): void {
  const bytes = Buffer.from(text);
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT, 0o644); // no O_TRUNC
  try {
    writeSync(fd, bytes, 0, bytes.length, 0);
    ftruncateSync(fd, bytes.length);
  } finally {
    closeSync(fd);
  }
}
