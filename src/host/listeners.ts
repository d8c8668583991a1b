// Listening TCP sockets on this host with their process: `ss -ltnpH` on Linux, `lsof` on macOS.

import { readFile } from 'node:fs/promises';
import type { RunCommand } from './run-command.ts';

export interface Listener {
  address: string;
  port: number;
  pid: number;
  command: string;
}

// Every TCP listener with an owning process we can see (root sees all).
export async function listTcpListeners(run: RunCommand): Promise<Listener[]> {
  if (process.platform === 'linux') return parseSs((await run(['ss', '-ltnpH'])).stdout);
  return parseLsof((await run(['lsof', '-nP', '-iTCP', '-sTCP:LISTEN', '-Fpcn'])).stdout);
}

// `LISTEN 0 5 192.168.64.1:18443 0.0.0.0:* users:(("socat",pid=123,fd=5),…)`; one entry per process.
export function parseSs(text: string): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    const local = cols[3];
    if (!local) continue;
    const at = local.lastIndexOf(':');
    const address = local.slice(0, at).replace(/^\[|\]$/g, '').replace(/%.*$/, '');
    const port = Number(local.slice(at + 1));
    for (const m of line.matchAll(/\("([^"]*)",pid=(\d+)/g)) out.push({ address, port, pid: Number(m[2]), command: m[1]! });
  }
  return out;
}

// lsof -F output: `p<pid>`, `c<command>`, then `n<addr>:<port>` lines for that process.
export function parseLsof(text: string): Listener[] {
  const out: Listener[] = [];
  let pid = 0;
  let command = '';
  for (const line of text.split('\n')) {
    const tag = line[0];
    const value = line.slice(1);
    if (tag === 'p') pid = Number(value);
    else if (tag === 'c') command = value;
    else if (tag === 'n') {
      const at = value.lastIndexOf(':');
      out.push({ address: value.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(value.slice(at + 1)), pid, command });
    }
  }
  return out;
}

// A process's argv: /proc on Linux, `ps` elsewhere; undefined when it is gone.
export async function processArgs(pid: number, run: RunCommand): Promise<string[] | undefined> {
  if (process.platform === 'linux') {
    try {
      return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    } catch {
      return undefined;
    }
  }
  const r = await run(['ps', '-o', 'args=', '-p', String(pid)]);
  return r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim().split(/\s+/) : undefined;
}
