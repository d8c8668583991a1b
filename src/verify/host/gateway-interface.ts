// The interface holding the gateway address, found by address and never by name (domain.md §4).

import { interfaceFromIfconfig, interfaceFromIpJson } from '../../host/find-interface.ts';
import type { RunCommand } from '../../host/run-command.ts';

export interface GatewayInterfaceOptions {
  /** Which tool to ask first: `ifconfig` on macOS (pf), `ip -j addr` on Linux (nft). */
  prefer?: 'ifconfig' | 'ip';
}

// The interface, or undefined when no interface holds the address. On macOS `ifconfig` comes
// first: an `ip` there is Homebrew's iproute2mac, whose JSON nobody has checked against ifconfig.
export async function gatewayInterface(gateway: string, run: RunCommand, options: GatewayInterfaceOptions = {}): Promise<string | undefined> {
  const order = options.prefer === 'ifconfig' ? (['ifconfig', 'ip'] as const) : (['ip', 'ifconfig'] as const);
  for (const tool of order) {
    const r = await run(tool === 'ip' ? ['ip', '-j', 'addr'] : ['ifconfig']);
    if (r.exitCode !== 0) continue;
    return tool === 'ip' ? interfaceFromIpJson(r.stdout, gateway) : interfaceFromIfconfig(r.stdout, gateway);
  }
  return undefined;
}
