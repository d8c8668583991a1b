// DNS is a side channel (data leaks out in query names): UDP queries to the gateway and to resolvers
// must get no answer, and the system resolver must not resolve a public name.

import dgram from 'node:dgram';
import net from 'node:net';
import type { ProbeResult } from './result.ts';
import { dnsQuery } from './dns-query.ts';
import { ask } from './hosts-line.ts';
import type { Lookup } from './system-lookup.ts';
import { deadline } from './deadline.ts';

export interface DnsOptions {
  servers: readonly string[];
  name: string;
  timeoutMs: number;
  /** Port the servers are asked on; 53 except in unit tests. */
  port?: number;
  lookup?: Lookup;
}

// One row per server, plus one for the system resolver; all at once, since each may have to wait
// out the whole timeout (one after the other, the group took two of them: issue 9).
export async function dnsProbe(o: DnsOptions): Promise<ProbeResult[]> {
  const [udp, system] = await Promise.all([Promise.all(o.servers.map((s) => udpQuery(s, o))), systemResolver(o)]);
  return [...udp, system];
}

function udpQuery(server: string, o: DnsOptions): Promise<ProbeResult> {
  const started = performance.now();
  const port = o.port ?? 53;
  return new Promise((resolve) => {
    const socket = dgram.createSocket(net.isIPv6(server) ? 'udp6' : 'udp4');
    const timer = deadline(() => end('no answer (timeout)'), o.timeoutMs);
    let resend: NodeJS.Timeout | undefined;
    socket.on('message', () => end(undefined));
    // A connected UDP socket learns of ICMP port/host unreachable as an error: blocked too.
    socket.on('error', (e: NodeJS.ErrnoException) => end(`no answer (${e.code ?? e.message})`));
    // The query goes out twice, the second halfway through the wait: UDP has no retransmission of
    // its own, and with one datagram a single loss would read as "no answer", a false pass.
    const query = dnsQuery(o.name, (Math.random() * 0xffff) | 0);
    socket.connect(port, server, () => {
      socket.send(query);
      resend = setTimeout(() => {
        if (!ended) socket.send(query);
      }, o.timeoutMs / 2);
    });
    let ended = false;
    function end(blocked: string | undefined): void {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      clearTimeout(resend);
      socket.close();
      const ok = blocked !== undefined;
      resolve({
        group: 'dns',
        probe: `UDP ${server}:${port} ${o.name}`,
        expected: 'no answer',
        measured: blocked ?? 'ANSWERED',
        ok,
        ms: Math.round(performance.now() - started),
        ...(ok ? {} : { detail: `DNS server ${server} answers the VM: DNS is an open side channel` }),
      });
    }
  });
}

// The system resolver must fail on the name; a lookup that could not be made at all (ENOTRUN) is
// not a failure to resolve but a check that did not run, so it is no pass.
async function systemResolver(o: DnsOptions): Promise<ProbeResult> {
  const started = performance.now();
  let measured: string;
  let detail: string | undefined;
  try {
    const addresses = await ask(o.name, o.timeoutMs, o.lookup);
    measured = `resolves to ${addresses.join(', ')}`;
    detail = `the VM's system resolver resolves "${o.name}": DNS reaches out of the cage`;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTRUN') {
      measured = 'NOT RUN';
      detail = `the VM's system resolver could not be asked (${(e as Error).message}): whether DNS reaches out is unknown`;
    } else measured = `does not resolve (${code ?? (e as Error).message})`;
  }
  return {
    group: 'dns',
    probe: `system resolver: ${o.name}`,
    expected: 'does not resolve',
    measured,
    ok: detail === undefined,
    ms: Math.round(performance.now() - started),
    ...(detail === undefined ? {} : { detail }),
  };
}
