// ICMP echo must get no reply (ping tunnels carry data). Where `ping` is missing the row is NOT RUN
// (no pass); `--skip icmp` leaves the group out on purpose.

import { spawn } from 'node:child_process';
import net from 'node:net';
import type { ProbeResult } from './result.ts';
import { deadline } from './deadline.ts';

/** The commands that send one echo (tests put stand-ins here). */
export interface PingCommands {
  ping: string;
  ping6: string;
}

const SYSTEM: PingCommands = { ping: 'ping', ping6: 'ping6' };

// One row per address, two pings each (see below). All run at once under one `sh`, each printing
// "INDEX STATUS" when it ends: one process start instead of one per ping (each start holds this
// thread ~8 ms, and every probe's timeout clock waits behind them, issue 9). Whatever has not
// answered when the timeout ends is killed with its process group: no reply.
export function icmpProbe(addresses: readonly string[], timeoutMs: number, commands: PingCommands = SYSTEM): Promise<ProbeResult[]> {
  if (addresses.length === 0) return Promise.resolve([]);
  const started = performance.now();
  const mac = process.platform === 'darwin';
  const halfway = (timeoutMs / 2000).toFixed(3);
  // Each ping's argv goes in as positional parameters ("$1" …), so no address is ever shell text.
  const params: string[] = [];
  const lines = addresses.map((address, index) => {
    const v6 = net.isIPv6(address);
    // macOS has ping6 for v6 and -W in milliseconds; Linux ping takes -6 and -W in seconds.
    const argv = [
      v6 && mac ? commands.ping6 : commands.ping,
      '-n', '-c', '1',
      ...(mac ? (v6 ? [] : ['-W', String(timeoutMs)]) : ['-W', String(Math.max(1, Math.ceil(timeoutMs / 1000)))]),
      ...(v6 && !mac ? ['-6'] : []),
      address,
    ];
    const refs = argv.map((arg) => {
      params.push(arg);
      return `"\${${params.length}}"`;
    });
    const ping = `${refs.join(' ')} >/dev/null 2>&1; echo "${index} $?"`;
    // Two echoes, the second from a ping started half-way through the wait: one lost echo (or
    // reply) on an open path would otherwise read as "no reply", a false pass.
    return `(${ping}) &\n(sleep ${halfway}; ${ping}) &`;
  });
  const script = `${lines.join('\n')}\nwait\n`;
  return new Promise((resolve) => {
    // Each address's exit codes, one per ping as it ends.
    const status = new Map<number, number[]>();
    let out = '';
    let ended = false;
    const child = spawn('sh', ['-c', script, 'sh', ...params], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    const finish = (skipped?: string) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      const ms = Math.round(performance.now() - started);
      resolve(
        addresses.map((address, index): ProbeResult => {
          const codes = status.get(index) ?? [];
          const row = (measured: string, ok: boolean, detail?: string): ProbeResult => ({ group: 'icmp', probe: `ping ${address}`, expected: 'no reply', measured, ok, ms, ...(detail ? { detail } : {}) });
          if (codes.includes(0)) return row('REPLY', false, `${address} answers ping from the VM: ICMP leaves the cage`);
          // Not run is no pass (issue 24): whether ICMP leaves the cage is then unknown.
          if (skipped !== undefined || codes.includes(127)) return row('NOT RUN', false, `${skipped ?? '`ping` is not installed in the VM'}: whether ICMP leaves the cage is unknown (install ping, or leave the group out with --skip icmp)`);
          return row('no reply', true);
        }),
      );
    };
    // No reply within the timeout is the answer: killed then, not when ping's whole-second -W ends.
    // Killed too when every address has its answer (a reply, or both pings ended), since the second
    // ping of an address that replied may still be waiting to start.
    const kill = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const timer = deadline(() => {
      kill();
      finish();
    }, timeoutMs);
    const answered = (index: number) => {
      const codes = status.get(index) ?? [];
      return codes.includes(0) || codes.length >= 2;
    };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      for (const line of out.split('\n').slice(0, -1)) {
        const m = /^(\d+) (\d+)$/.exec(line);
        if (m) status.set(Number(m[1]), [...(status.get(Number(m[1])) ?? []), Number(m[2])]);
      }
      out = out.slice(out.lastIndexOf('\n') + 1);
      if (addresses.every((_, index) => answered(index))) {
        kill();
        finish();
      }
    });
    child.on('error', () => finish('`sh` could not start in the VM'));
    child.on('close', () => finish());
  });
}
