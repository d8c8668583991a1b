// IPv4 addresses and prefixes as the policy writes them, strictly: four decimal octets, no
// leading zeros (inet_aton would read "010" as octal 8: a policy must mean one thing).

export type Ipv4Parse = { ok: true; value: number } | { ok: false; reason: string };

export interface Cidr4 {
  /** Network address as a 32-bit unsigned number. */
  network: number;
  prefix: number;
}

// Parses dotted-quad text into a 32-bit unsigned number, or says what is wrong with it.
export function parseIpv4(text: string): Ipv4Parse {
  const parts = text.split('.');
  if (parts.length !== 4) return { ok: false, reason: `it has ${parts.length} part${parts.length === 1 ? '' : 's'}, not 4` };
  let value = 0;
  for (const part of parts) {
    if (!/^\d+$/.test(part)) return { ok: false, reason: 'a part is empty' };
    if (part.length > 1 && part.startsWith('0')) return { ok: false, reason: `"${part}" has a leading zero` };
    const n = Number(part);
    if (n > 255) return { ok: false, reason: `${part} is larger than 255` };
    value = value * 256 + n;
  }
  return { ok: true, value };
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

// The mask of a prefix length as a 32-bit unsigned number.
export function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function inCidr(address: number, cidr: Cidr4): boolean {
  return ((address & prefixMask(cidr.prefix)) >>> 0) === cidr.network;
}

export function broadcastOf(cidr: Cidr4): number {
  return (cidr.network | (~prefixMask(cidr.prefix) >>> 0)) >>> 0;
}

export function formatCidr(cidr: Cidr4): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefix}`;
}

// Ranges a bridge target can never usefully be: not a host on the owner's LAN or the internet.
export const UNROUTABLE_IPV4: ReadonlyArray<{ cidr: Cidr4; what: string }> = [
  ['0.0.0.0', 8, '"this network" (0.0.0.0/8)'],
  ['127.0.0.0', 8, 'loopback (127.0.0.0/8): the host itself, which the bridges must not expose'],
  ['169.254.0.0', 16, 'link-local (169.254.0.0/16)'],
  ['224.0.0.0', 4, 'multicast (224.0.0.0/4)'],
  ['240.0.0.0', 4, 'reserved (240.0.0.0/4)'],
].map(([address, prefix, what]) => {
  const parsed = parseIpv4(address as string);
  if (!parsed.ok) throw new Error(`bad built-in range ${address}`);
  return { cidr: { network: parsed.value, prefix: prefix as number }, what: what as string };
});
