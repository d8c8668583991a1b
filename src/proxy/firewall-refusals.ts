// What the firewall refused from the VM, counted: each (protocol, destination, port) gets one
// record per window with how many packets tried it and when the first and last came, so a client
// that hammers an address directly reads as "tried 203.0.113.10:443 directly 50×" instead of 50
// lines, and a flood to many destinations stays bounded (MAX_KEYS a window, the rest summed in
// one record). Pure: packets and times in, audit records (door "firewall") out.

import type { AuditRecord } from '../formats/proxy-config.ts';
import type { LoggedPacket } from '../host/tcpdump-line.ts';

/** Distinct destinations kept per window; the rest are counted together. */
export const MAX_KEYS = 256;

interface Tally {
  packet: LoggedPacket;
  count: number;
  first: number;
  last: number;
}

export class RefusalTally {
  private readonly keys = new Map<string, Tally>();
  private overflow: Tally | undefined;

  // Counts one refused packet seen at `now` (ms since the epoch).
  add(packet: LoggedPacket, now: number): void {
    const key = `${packet.proto} ${packet.dst} ${packet.port ?? ''} ${packet.src}`;
    const known = this.keys.get(key);
    if (known) {
      known.count++;
      known.last = now;
    } else if (this.keys.size < MAX_KEYS) {
      this.keys.set(key, { packet, count: 1, first: now, last: now });
    } else if (this.overflow) {
      this.overflow.count++;
      this.overflow.last = now;
    } else {
      this.overflow = { packet, count: 1, first: now, last: now };
    }
  }

  // The window's records (oldest first) and a fresh window.
  flush(): AuditRecord[] {
    const out = [...this.keys.values()].sort((a, b) => a.first - b.first).map((t) => record(t, describe(t)));
    if (this.overflow) out.push(record(this.overflow, `and ${this.overflow.count} more refused packet(s) to other destinations (more than ${MAX_KEYS} in one window)`, true));
    this.keys.clear();
    this.overflow = undefined;
    return out;
  }
}

// "tried 203.0.113.10:443 (tcp) directly 50×".
function describe(t: Tally): string {
  const { dst, port, proto } = t.packet;
  const where = port === undefined ? dst : dst.includes(':') ? `[${dst}]:${port}` : `${dst}:${port}`;
  return `tried ${where} (${proto}) directly ${t.count}×: refused by the firewall`;
}

// One record for a tally.
function record(t: Tally, reason: string, overflow = false): AuditRecord {
  return {
    time: new Date(t.first).toISOString(), door: 'firewall', client: t.packet.src, name: overflow ? '' : t.packet.dst,
    port: overflow ? 0 : t.packet.port ?? 0, address: overflow ? '' : t.packet.dst, ...(overflow ? {} : { protocol: t.packet.proto }), decision: 'refused', reason,
    bytesUp: 0, bytesDown: 0, durationMs: t.last - t.first, event: 'summary', count: t.count, until: new Date(t.last).toISOString(),
  };
}
