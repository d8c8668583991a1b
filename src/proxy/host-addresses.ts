// The host's own addresses, read from its interfaces at decision time: an allowed name that
// resolves to one of them would turn the proxy into a door to every service on the host. Read
// live (cached briefly) because they change while the proxy runs (DHCP, a VPN coming up, the
// VM's gateway appearing), which a list written at start-up would miss.

import { networkInterfaces } from 'node:os';
import { parseIp, type IpBytes } from '../net/ip-address.ts';

const CACHE_MS = 2000;

// Returns a function giving the current addresses, re-read at most every CACHE_MS.
export function liveHostAddresses(now: () => number = Date.now, read: typeof networkInterfaces = networkInterfaces): () => IpBytes[] {
  let cached: IpBytes[] = [];
  let readAt = -Infinity;
  return () => {
    if (now() - readAt < CACHE_MS) return cached;
    readAt = now();
    cached = Object.values(read()).flat().flatMap((info) => {
      const ip = info ? parseIp(info.address.split('%')[0] ?? '') : undefined;
      return ip ? [ip] : [];
    });
    return cached;
  };
}
