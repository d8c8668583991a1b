// `--egress ADDR:PORT,…` into endpoints; IPv6 in brackets ("[2001:db8::1]:443").

import { lazyNet } from '../lazy-builtins.ts';
import type { Endpoint } from './inside/result.ts';

// Throws a one-sentence error naming the bad item.
export function parseEndpoints(list: string): Endpoint[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const m = /^\[([^\]]+)\]:(\d+)$/.exec(item) ?? /^([^:]+):(\d+)$/.exec(item);
      const host = m?.[1];
      const port = Number(m?.[2]);
      if (!host || lazyNet().isIP(host) === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
        throw new Error(`"${item}" is not ADDRESS:PORT (an IP address, IPv6 in brackets, and a port 1-65535).`);
      }
      return { host, port };
    });
}
