// Canary listeners: short-lived TCP listeners on the gateway at ports the policy does not allow. The
// VM's report is the VM's word; a canary that saw a connection is the host's own evidence that the
// gateway is reachable, so verify fails on it whatever the VM said.

import net from 'node:net';
import { randomInt } from 'node:crypto';
import type { ProbeResult } from '../inside/result.ts';
import { hostRow } from './host-result.ts';

const CANARY_COUNT = 5;
/** Bind attempts before giving up (a busy port is skipped, not retried). */
const MAX_ATTEMPTS = 40;

// Ports picked afresh each run from a CSPRNG, above 1023 (no privilege needed) and never a bridge
// or a port the policy opens: fixed ports would be ports a forging VM simply avoids.
export function canaryCandidates(exclude: readonly number[], count = MAX_ATTEMPTS): number[] {
  const out = new Set<number>();
  while (out.size < count) {
    const port = randomInt(1024, 65536);
    if (!exclude.includes(port)) out.add(port);
  }
  return [...out];
}

export interface Canaries {
  ports: number[];
  /** Why no canary could be opened, if none could. */
  unavailable?: string;
  // Stops listening and returns one row per canary (and one if none could open).
  close(): Promise<ProbeResult[]>;
}

// Opens the canaries; never throws (a host that cannot bind the gateway gets a row saying so).
export async function openCanaries(gateway: string, exclude: readonly number[]): Promise<Canaries> {
  const servers: Array<{ port: number; server: net.Server; hits: string[] }> = [];
  let lastError = '';
  for (const port of canaryCandidates(exclude)) {
    if (servers.length >= CANARY_COUNT) break;
    const hits: string[] = [];
    const server = net.createServer((socket) => {
      hits.push(`${socket.remoteAddress}:${socket.remotePort}`);
      socket.destroy();
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: gateway, port, exclusive: true }, () => resolve());
      });
      servers.push({ port, server, hits });
    } catch (e) {
      lastError = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      server.close();
    }
  }
  const opened = performance.now();
  return {
    ports: servers.map((s) => s.port),
    ...(servers.length === 0 ? { unavailable: lastError } : {}),
    async close() {
      await Promise.all(servers.map((s) => new Promise((r) => s.server.close(r))));
      const ms = performance.now() - opened;
      if (servers.length === 0) {
        return [{ group: 'canary', probe: `canaries on ${gateway}`, expected: 'opened', measured: `not possible (${lastError})`, ok: false, ms: 0, detail: `no canary could listen on ${gateway} (${lastError}): the VM's report is unchecked by the host` }];
      }
      return servers.map((s) => ({
        ...hostRow(`canary ${gateway}:${s.port}`, 'no connection', s.hits.length ? `CONNECTED from ${s.hits.slice(0, 3).join(', ')}` : 'no connection', s.hits.length === 0, ms,
          `canary ${gateway}:${s.port} saw ${s.hits.length} connection(s) from ${s.hits[0]}: the VM reached a gateway port the policy does not allow`),
        group: 'canary',
      }));
    },
  };
}
