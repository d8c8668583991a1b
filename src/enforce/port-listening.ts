// Whether a TCP port is listening on an IPv4 address, read from /proc/net/tcp (Linux: the network
// namespace enforce runs in). A fresh socat is known up the moment its port listens, instead of
// after a fixed wait. Elsewhere (macOS) the answer is unknown and the caller falls back to a wait.

import { readFileSync } from 'node:fs';

export function portListening(address: string, port: number): boolean | undefined {
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return undefined;
  }
  const octets = address.split('.').map(Number);
  const hex = (bytes: number[]) => bytes.map((b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
  // The kernel prints the address as a native-endian 32-bit number: accept either byte order.
  const wanted = new Set([hex(octets), hex([...octets].reverse()), '00000000'].map((a) => `${a}:${port.toString(16).toUpperCase().padStart(4, '0')}`));
  for (const line of table.split('\n').slice(1)) {
    const [, local, , state] = line.trim().split(/\s+/);
    if (state === '0A' && local !== undefined && wanted.has(local)) return true;
  }
  return false;
}
