// Reads a hosts-format file ("address name alias…" lines, # comments) the way the system's
// resolver does, so the proxy can answer hosts-file names itself before asking DNS.

import { isIP } from 'node:net';
import type { LookupAddress } from './resolve-checked.ts';

// Every address listed for `name` (case-insensitive), in file order; empty when none is.
export function hostsFileAddresses(text: string, name: string): LookupAddress[] {
  const wanted = name.toLowerCase();
  const out: LookupAddress[] = [];
  for (const raw of text.split('\n')) {
    const [address, ...names] = raw.replace(/#.*$/, '').trim().split(/\s+/);
    if (!address || !names.some((n) => n.toLowerCase() === wanted)) continue;
    // A zone id ("fe80::1%lo0") is dropped: the address is judged without it.
    const plain = address.split('%')[0]!;
    const family = isIP(plain);
    if (family !== 0 && !out.some((a) => a.address === plain)) out.push({ address: plain, family });
  }
  return out;
}
