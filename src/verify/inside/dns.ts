// DNS is a side channel (data leaks out in query names): UDP queries to the gateway and to resolvers
// must get no answer, and the system resolver must not resolve a public name. Where the policy has
// egress doors, the gateway's port 53 is nanopolicy's own responder: there the answer must be
// NXDOMAIN with no address (it knows only the policy's names and forwards nothing).

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
  /** The server that is nanopolicy's DNS responder (the gateway, with egress doors). */
  responder?: string;
  /** With a responder: the exact egress names, each of which it must answer with `responder` only. */
  listed?: readonly string[];
  lookup?: Lookup;
}

// One row per server, plus one for the system resolver; all at once, since each may have to wait
// out the whole timeout (one after the other, the group took two of them: issue 9).
export async function dnsProbe(o: DnsOptions): Promise<ProbeResult[]> {
  const listed = o.responder ? (o.listed ?? []).map((name) => listedName(o.responder!, name, o)) : [];
  const [udp, system, names] = await Promise.all([Promise.all(o.servers.map((s) => udpQuery(s, o))), systemResolver(o), Promise.all(listed)]);
  return [...udp, system, ...names];
}

// A listed name asked of our responder: the answer must be the gateway and nothing else (the name
// leads to the transparent door), NOERROR.
function listedName(server: string, name: string, o: DnsOptions): Promise<ProbeResult> {
  const started = performance.now();
  const port = o.port ?? 53;
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const query = dnsQuery(name, (Math.random() * 0xffff) | 0);
    const timer = deadline(() => end('no answer (timeout)'), o.timeoutMs);
    const resend = setTimeout(() => socket.send(query), o.timeoutMs / 2);
    socket.on('error', (e: NodeJS.ErrnoException) => end(`no answer (${e.code ?? e.message})`));
    socket.on('message', (m: Buffer) => {
      if (m.length < 12 || m.readUInt16BE(0) !== query.readUInt16BE(0)) return;
      const addresses = answerAddresses(m, query.length);
      end(`rcode ${m[3]! & 0xf}: ${addresses.length ? addresses.join(', ') : 'no address'}`, (m[3]! & 0xf) === 0 && addresses.length > 0 && addresses.every((a) => a === server));
    });
    socket.connect(port, server, () => socket.send(query));
    let ended = false;
    function end(measured: string, ok = false): void {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      clearTimeout(resend);
      socket.close();
      resolve({
        group: 'dns', probe: `${name} from nanopolicy's responder on ${server}:${port}`, expected: `${server} only`, measured, ok,
        ms: Math.round(performance.now() - started),
        ...(ok ? {} : { detail: `the DNS responder on ${server} did not answer the listed name "${name}" with ${server} alone: the name does not lead to the transparent door` }),
      });
    }
  });
}

// The IPv4 addresses in an answer's A records (the question echoed is `questionEnd` bytes long).
function answerAddresses(m: Buffer, questionEnd: number): string[] {
  const out: string[] = [];
  let at = questionEnd;
  for (let i = 0; i < m.readUInt16BE(6) && at < m.length; i++) {
    // The owner name: labels, or a compression pointer.
    while (at < m.length && m[at] !== 0 && (m[at]! & 0xc0) !== 0xc0) at += m[at]! + 1;
    at += at < m.length && m[at] === 0 ? 1 : 2;
    if (at + 10 > m.length) break;
    const type = m.readUInt16BE(at);
    const length = m.readUInt16BE(at + 8);
    if (type === 1 && length === 4 && at + 14 <= m.length) out.push([...m.subarray(at + 10, at + 14)].join('.'));
    at += 10 + length;
  }
  return out;
}

function udpQuery(server: string, o: DnsOptions): Promise<ProbeResult> {
  const started = performance.now();
  const port = o.port ?? 53;
  return new Promise((resolve) => {
    const socket = dgram.createSocket(net.isIPv6(server) ? 'udp6' : 'udp4');
    const timer = deadline(() => end('no answer (timeout)'), o.timeoutMs);
    let resend: NodeJS.Timeout | undefined;
    const query = dnsQuery(o.name, (Math.random() * 0xffff) | 0);
    const ours = server === o.responder;
    // Our responder must answer, and with no address: NXDOMAIN for a name the policy does not list.
    socket.on('message', (m: Buffer) => {
      if (!ours) return end(undefined);
      if (m.length < 12 || m.readUInt16BE(0) !== query.readUInt16BE(0)) return;
      const rcode = m[3]! & 0xf;
      const answers = m.readUInt16BE(6);
      end(rcode === 3 && answers === 0 ? 'NXDOMAIN, no address' : undefined, `rcode ${rcode}, ${answers} answer(s)`);
    });
    // A connected UDP socket learns of ICMP port/host unreachable as an error: blocked too.
    socket.on('error', (e: NodeJS.ErrnoException) => end(`no answer (${e.code ?? e.message})`));
    // The query goes out twice, the second halfway through the wait: UDP has no retransmission of
    // its own, and with one datagram a single loss would read as "no answer", a false pass.
    socket.connect(port, server, () => {
      socket.send(query);
      resend = setTimeout(() => {
        if (!ended) socket.send(query);
      }, o.timeoutMs / 2);
    });
    let ended = false;
    function end(blocked: string | undefined, answered?: string): void {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      clearTimeout(resend);
      socket.close();
      // Silence from our responder is no pass either: the door the policy promises is not there.
      const ok = blocked !== undefined && !(ours && blocked.startsWith('no answer'));
      resolve({
        group: 'dns',
        probe: `UDP ${server}:${port} ${o.name}${ours ? " (nanopolicy's responder)" : ''}`,
        expected: ours ? 'NXDOMAIN, no address' : 'no answer',
        measured: blocked ?? (answered ? `ANSWERED (${answered})` : 'ANSWERED'),
        ok,
        ms: Math.round(performance.now() - started),
        ...(ok ? {} : {
          detail: ours
            ? blocked ? `nanopolicy's DNS responder on ${server} did not answer: names cannot lead to the gateway` : `the DNS responder on ${server} answered an unlisted name (${answered}): it must answer NXDOMAIN`
            : `DNS server ${server} answers the VM: DNS is an open side channel`,
        }),
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
