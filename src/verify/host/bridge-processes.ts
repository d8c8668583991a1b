// Each bridge: a socat alive with the compiled arguments, listening on the gateway address only. A
// bridge on `*` is reachable from the LAN too, and with `range=` gone from anyone who can route to it.

import type { Policy } from '../../compiler/policy.ts';
import { socatListenPrefix, socatTarget } from '../../compiler/emit/bridges-sh.ts';
import type { ProbeResult } from '../inside/result.ts';
import type { RunCommand } from '../../host/run-command.ts';
import { hostRow } from './host-result.ts';
import { listTcpListeners, processArgs } from '../../host/listeners.ts';

// One row per bridge.
export async function checkBridgeProcesses(policy: Policy, run: RunCommand): Promise<ProbeResult[]> {
  const started = performance.now();
  const listeners = await listTcpListeners(run);
  const gateway = policy.network.gateway;
  return Promise.all(
    policy.bridges.map(async (b) => {
      const probe = `bridge ${b.name}: socat on ${gateway}:${b.listen}`;
      const expected = `socat on ${gateway} only`;
      const mine = listeners.filter((l) => l.port === b.listen);
      const ms = () => performance.now() - started;
      if (mine.length === 0) return hostRow(probe, expected, 'NOT LISTENING', false, ms(), `bridge "${b.name}" is down: nothing listens on port ${b.listen}`);
      const wide = mine.filter((l) => l.address !== gateway);
      if (wide.length > 0) {
        const where = [...new Set(wide.map((l) => `${l.address}:${l.port}`))].join(', ');
        return hostRow(probe, expected, `listening on ${where}`, false, ms(), `bridge "${b.name}" listens on ${where}, not only on the gateway ${gateway}: it is reachable from outside the VM's network`);
      }
      const prefix = socatListenPrefix(policy, b);
      const target = socatTarget(b);
      // enforce resolves a name target itself and hands socat the checked address (socat would
      // re-resolve per connection): for a name, an address target on the same port is the bridge.
      const resolved = new RegExp(`^(TCP4:\\d{1,3}(\\.\\d{1,3}){3}|TCP6:\\[[0-9a-f:.]+\\]):${b.target.port}$`);
      const targetOk = (args: string[]) => args.includes(target) || (b.target.kind === 'dns' && args.some((a) => resolved.test(a)));
      for (const l of mine) {
        const args = await processArgs(l.pid, run);
        const listen = args?.find((a) => a.startsWith(prefix));
        const rangeOk = listen !== undefined && /^[0-9.]+\/\d+$/.test(listen.slice(prefix.length));
        if (!/^socat/.test(l.command) || !args || !rangeOk || !targetOk(args)) {
          return hostRow(probe, expected, `${l.command}[${l.pid}] ${args?.join(' ') ?? '(gone)'}`, false, ms(),
            `the process on ${gateway}:${b.listen} is not the compiled bridge "${b.name}" (expected socat ${prefix}<CIDR> ${target})`);
        }
      }
      return hostRow(probe, expected, `socat[${mine.map((l) => l.pid).join(',')}] on ${gateway}`, true, ms());
    }),
  );
}
