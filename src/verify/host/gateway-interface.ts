// The interface holding the gateway address, found by address and never by name (domain.md §4).

import type { RunCommand } from './run-command.ts';

// `ip -j addr` on Linux, `ifconfig` on macOS; undefined when no interface holds the address.
export async function gatewayInterface(gateway: string, run: RunCommand): Promise<string | undefined> {
  const ipJson = await run(['ip', '-j', 'addr']);
  if (ipJson.exitCode === 0) {
    try {
      const entries = JSON.parse(ipJson.stdout) as Array<{ ifname?: string; addr_info?: Array<{ local?: string }> }>;
      return entries.find((e) => e.addr_info?.some((a) => a.local === gateway))?.ifname;
    } catch {
      return undefined;
    }
  }
  const ifc = await run(['ifconfig']);
  let current: string | undefined;
  for (const line of ifc.stdout.split('\n')) {
    const head = /^([A-Za-z0-9_.-]+):\s+flags=/.exec(line);
    if (head) current = head[1];
    else if (new RegExp(`^\\s+inet ${gateway.replace(/\./g, '\\.')}\\b`).test(line)) return current;
  }
  return undefined;
}
