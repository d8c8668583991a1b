// Just enough IPv4 arithmetic for enforce to check the VM's address against the policy's subnet.

// Parses a dotted quad into a 32-bit number, or undefined.
export function ipv4ToNumber(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

// Whether `address` is a usable host address of `subnet` other than `gateway`: the VM's address
// comes from tart or the command line and narrows every bridge's range=, so it must be sane.
export function isVmAddress(address: string, subnet: string, gateway: string): boolean {
  const [net, prefixText] = subnet.split('/');
  const a = ipv4ToNumber(address);
  const n = ipv4ToNumber(net ?? '');
  const prefix = Number(prefixText);
  if (a === undefined || n === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 30) return false;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((a & mask) >>> 0 !== n) return false;
  const host = (a & ~mask) >>> 0;
  return host !== 0 && host !== (~mask >>> 0) && address !== gateway;
}
