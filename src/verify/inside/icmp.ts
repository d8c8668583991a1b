// ICMP echo must get no reply (ping tunnels carry data). Optional: skipped where `ping` is missing.

import { spawn } from 'node:child_process';
import net from 'node:net';
import type { ProbeResult } from './result.ts';

// One row per address; `ping -c 1`, killed after the timeout.
export function icmpProbe(addresses: readonly string[], timeoutMs: number): Promise<ProbeResult[]> {
  return Promise.all(addresses.map((a) => ping(a, timeoutMs)));
}

function ping(address: string, timeoutMs: number): Promise<ProbeResult> {
  const started = performance.now();
  const v6 = net.isIPv6(address);
  // macOS has ping6 for v6 and -W in milliseconds; Linux ping takes -6 and -W in seconds.
  const mac = process.platform === 'darwin';
  const cmd = v6 && mac ? 'ping6' : 'ping';
  const args = ['-n', '-c', '1', ...(mac ? (v6 ? [] : ['-W', String(timeoutMs)]) : ['-W', String(Math.max(1, Math.ceil(timeoutMs / 1000)))]), ...(v6 && !mac ? ['-6'] : []), address];
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    // No reply within the timeout is the answer: killed then, not when ping's whole-second -W ends.
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', () => done('skipped', true, '`ping` is not installed in the VM'));
    child.on('exit', (code) => (code === 0 ? done('REPLY', false, `${address} answers ping from the VM: ICMP leaves the cage`) : done('no reply', true)));
    let ended = false;
    function done(measured: string, ok: boolean, detail?: string): void {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      resolve({ group: 'icmp', probe: `ping ${address}`, expected: 'no reply', measured, ok, ms: Math.round(performance.now() - started), ...(detail ? { detail } : {}) });
    }
  });
}
