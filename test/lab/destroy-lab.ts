// Synchronous removal of everything a lab made, usable from an 'exit' handler and from the sweeper.
//
// It works from names alone (the lab id and its directory), not from in-memory state, so the same
// code cleans up this process's labs and labs left behind by a crashed earlier run.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAB_ID_PATTERN, LAB_NETNS_PATTERN, ROLES } from './topology.ts';

/** Every lab's files live in LAB_BASE/<id>/, with a lab.json marker naming its owner process. */
export const LAB_BASE = join(tmpdir(), 'nanopolicy-lab');

export interface LabMarker {
  id: string;
  ownerPid: number;
  created: string;
  namespaces: string[];
}

// Namespaces that currently exist (names only).
export function listNetns(): string[] {
  const out = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return (out.stdout ?? '')
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

// Mount points at or below `dir`, deepest first (from /proc/self/mountinfo, octal escapes decoded).
export function mountsUnder(dir: string): string[] {
  const info = readFileSync('/proc/self/mountinfo', 'utf8');
  const points = info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

// Kills every process inside the lab's namespaces, unmounts its shares, deletes its namespaces,
// its /etc/netns entries and its directory. Never throws; returns what it could not remove.
export function destroyLabSync(id: string): string[] {
  if (!LAB_ID_PATTERN.test(id)) return [`refusing to destroy "${id}": not a lab id`];
  const problems: string[] = [];
  const namespaces = ROLES.map((r) => `${id}-${r}`);
  const existing = new Set(listNetns());
  for (const ns of namespaces) {
    if (!existing.has(ns)) continue;
    // `ip netns pids` matches by namespace identity, so a reused pid elsewhere is never hit.
    const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
    for (const pid of pids.split('\n').map(Number).filter((p) => p > 1 && p !== process.pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  const dir = join(LAB_BASE, id);
  for (const point of mountsUnder(dir)) {
    let r = spawnSync('umount', [point], { encoding: 'utf8' });
    if (r.status !== 0) r = spawnSync('umount', ['-l', point], { encoding: 'utf8' });
    if (r.status !== 0) problems.push(`umount ${point}: ${r.stderr.trim()}`);
  }
  const toDelete = namespaces.filter((ns) => existing.has(ns));
  if (toDelete.length > 0) {
    const r = spawnSync('ip', ['-force', '-batch', '-'], { input: toDelete.map((ns) => `netns del ${ns}\n`).join(''), encoding: 'utf8' });
    if (r.status !== 0) problems.push(`ip netns del: ${r.stderr.trim()}`);
  }
  for (const ns of namespaces) rmSync(join('/etc/netns', ns), { recursive: true, force: true });
  // Only remove the directory once nothing is mounted in it: rm -r through a live bind mount
  // would delete the host folder behind it.
  if (mountsUnder(dir).length === 0) rmSync(dir, { recursive: true, force: true });
  else problems.push(`${dir} still has mounts; left in place`);
  return problems;
}

// Removes labs left by earlier runs whose owner process is gone. Touches only namespaces named
// `np?????-<role>` that have a marker in LAB_BASE; labs of live processes are left alone.
export function sweepStaleLabs(): string[] {
  const ids = new Set<string>();
  if (existsSync(LAB_BASE)) for (const name of readdirSync(LAB_BASE)) if (LAB_ID_PATTERN.test(name)) ids.add(name);
  for (const ns of listNetns()) {
    const id = LAB_NETNS_PATTERN.exec(ns)?.[1];
    if (id && existsSync(join(LAB_BASE, id, 'lab.json'))) ids.add(id);
  }
  const swept: string[] = [];
  for (const id of ids) {
    const marker = readMarker(id);
    if (!marker) continue;
    if (marker.ownerPid === process.pid || processAlive(marker.ownerPid)) continue;
    destroyLabSync(id);
    swept.push(id);
  }
  return swept;
}

// The lab's lab.json, or undefined when missing or unreadable.
function readMarker(id: string): LabMarker | undefined {
  try {
    return JSON.parse(readFileSync(join(LAB_BASE, id, 'lab.json'), 'utf8')) as LabMarker;
  } catch {
    return undefined;
  }
}

// True when a process with this pid exists (EPERM still means it exists).
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
