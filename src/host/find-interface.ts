// Finding the VM's interface by the gateway address it holds — never by name: vmnet's bridge is
// usually bridge100, but Parallels or VMware may hold that number (domain.md §4).

// From `ifconfig` output (macOS/BSD), the interface that holds `address` as an inet address.
export function interfaceFromIfconfig(output: string, address: string): string | undefined {
  let current: string | undefined;
  for (const line of output.split('\n')) {
    const head = /^([A-Za-z0-9_.-]+):\s+flags=/.exec(line);
    if (head) {
      current = head[1];
      continue;
    }
    const inet = /^\s+inet\s+(\d+\.\d+\.\d+\.\d+)\b/.exec(line);
    if (inet && inet[1] === address && current !== undefined) return current;
  }
  return undefined;
}

interface IpAddrEntry {
  ifname?: string;
  addr_info?: Array<{ family?: string; local?: string }>;
}

// From `ip -j addr` output (Linux), the interface that holds `address`.
export function interfaceFromIpJson(output: string, address: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(output);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  for (const entry of parsed as IpAddrEntry[]) {
    if (entry.addr_info?.some((a) => a.family === 'inet' && a.local === address)) return entry.ifname;
  }
  return undefined;
}

// A name safe to pass as a pf macro / nft define and to print: no shell or rule syntax in it.
export function safeInterfaceName(name: string): boolean {
  return /^[A-Za-z0-9_.-]{1,15}$/.test(name);
}
