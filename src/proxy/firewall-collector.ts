// The firewall-log collector: runs tcpdump on the firewall's log interface (nflog:GROUP in the
// lab, pflog0 on macOS), counts what the firewall refused from the VM (firewall-refusals.ts) and
// writes one record per destination and window to its own JSON-lines file beside the proxy's
// audit log, which `nanopolicy log` merges. It never reads packet payloads (tcpdump -q).

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { openAuditLog } from './audit-log.ts';
import { RefusalTally } from './firewall-refusals.ts';
import { parseTcpdumpLine } from '../host/tcpdump-line.ts';
import { cidrContains, parseCidr, parseIp, type Cidr } from '../net/ip-address.ts';

export interface CollectorOptions {
  /** The program and its arguments (tcpdump, or `sudo -n tcpdump` on macOS). */
  argv: readonly string[];
  /** pflog: only this anchor's rules. */
  anchor?: string;
  /** Only packets from here (the VM subnet). */
  subnet: string;
  /** The JSON-lines file the records go to. */
  out: string;
  rotateBytes: number;
  /** How often the counts are written. */
  flushMs: number;
  now?: () => number;
  log?: (line: string) => void;
}

export interface RunningCollector {
  /** Resolves once tcpdump says it is listening; rejects when it ends first. */
  ready: Promise<void>;
  /** Writes what is counted and stops tcpdump. */
  close(): Promise<void>;
  /** Resolves with tcpdump's exit code when it ends by itself. */
  exited: Promise<number | null>;
}

// Starts tcpdump and the counting.
export function startCollector(o: CollectorOptions): RunningCollector {
  const now = o.now ?? Date.now;
  const log = o.log ?? (() => {});
  const subnet = parseCidr(o.subnet) as Cidr;
  if (typeof subnet === 'string') throw new Error(`firewall log: ${subnet}`);
  const out = openAuditLog(o.out, o.rotateBytes);
  const tally = new RefusalTally();
  const flush = (): void => {
    for (const record of tally.flush()) {
      try {
        out.write(record);
      } catch (error) {
        log(`write failed: ${(error as Error).message}`);
      }
    }
  };
  const timer = setInterval(flush, o.flushMs);
  const child: ChildProcess = spawn(o.argv[0]!, o.argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let closed = false;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    let said = '';
    child.once('error', (error) => reject(new Error(`cannot run ${o.argv[0]}: ${(error as NodeJS.ErrnoException).code ?? error.message}`)));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      // "listening on nflog:77, link-type NFLOG …": tcpdump holds the interface now.
      if (/^listening on /.test(line)) resolve();
      else said = line;
      log(`tcpdump: ${line}`);
    });
    void exited.then((code) => reject(new Error(`tcpdump ended (exit ${code})${said ? `: ${said}` : ''}`)));
  });
  ready.catch(() => {});
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const packet = parseTcpdumpLine(line, o.anchor === undefined ? {} : { anchor: o.anchor });
    if (!packet) return;
    const src = parseIp(packet.src);
    if (!src || !cidrContains(subnet, src)) return;
    tally.add(packet, now());
  });
  return {
    ready,
    exited,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      }
      flush();
      out.close();
    },
  };
}
