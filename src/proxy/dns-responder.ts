// The DNS responder on the gateway (config.dns): UDP and TCP on one address and port, answering
// only the VM (allowClients) from the policy's names (dns-answer.ts). It opens no socket towards
// anyone else: a reply goes to the address the query came from, and nothing is ever forwarded.
// Every query is one audit record (door "dns"), at most DNS_RECORDS_PER_SECOND a second with a
// summary for the rest.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import type { AuditRecord, ProxyConfig } from '../formats/proxy-config.ts';
import { answerDnsQuery } from './dns-answer.ts';
import { limitAudit } from './audit-flood.ts';
import { cidrContains, parseIp, type Cidr } from '../net/ip-address.ts';

export const DNS_RECORDS_PER_SECOND = 50;
/** Largest TCP message read (RFC 1035's 2-byte length allows 65535; a query is under 300 bytes). */
const TCP_MAX_MESSAGE = 1024;
/** A TCP client that sends nothing for this long is closed. */
const TCP_IDLE_MS = 5000;
/** Queries answered on one TCP connection before it is closed. */
const TCP_MAX_QUERIES = 16;
/** TCP connections at once; past it a new one is closed at once. */
const TCP_MAX_CONNECTIONS = 16;

export interface DnsResponderDeps {
  allow: readonly Cidr[];
  audit: (record: AuditRecord) => void;
  now: () => number;
  log: (line: string) => void;
}

export interface RunningDnsResponder {
  address: { host: string; port: number };
  close(): Promise<void>;
}

// Binds UDP and TCP on config.dns.listen (the TCP port is the UDP one, once bound); resolves once
// both are bound, rejects (closing what was bound) when either cannot be.
export async function startDnsResponder(config: ProxyConfig, deps: DnsResponderDeps): Promise<RunningDnsResponder> {
  const dns = config.dns;
  if (!dns) throw new Error('proxy config has no "dns" section');
  const options = { rules: config.rules, answer: dns.answer, ttl: dns.ttl };
  const flood = limitAudit(deps.audit, DNS_RECORDS_PER_SECOND, deps.now);
  const record = (client: string, transport: 'udp' | 'tcp', d: ReturnType<typeof answerDnsQuery> | undefined, reason?: string): void => {
    flood.write({
      // Port 53: what the VM asked (the firewall redirects it here), not the port we listen on.
      time: new Date(deps.now()).toISOString(), door: 'dns', client, name: d?.name ?? '', port: 53,
      decision: d?.rule ? 'allowed' : 'refused',
      reason: reason ?? `${d?.type || '?'} over ${transport}: ${d?.rcode}, ${d?.reason}`,
      ...(d?.rule ? { rule: d.rule.name } : {}), bytesUp: 0, bytesDown: 0, durationMs: 0,
    });
  };
  const allowed = (address: string | undefined): string | undefined => {
    if (!address) return undefined;
    const text = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
    const ip = parseIp(text);
    return ip && deps.allow.some((c) => cidrContains(c, ip)) ? text : undefined;
  };

  const udp: UdpSocket = createSocket({ type: 'udp4' });
  udp.on('message', (message, remote) => {
    const client = allowed(remote.address);
    // Not the VM: no answer at all, so the responder cannot be used to reflect traffic.
    if (!client) return record(remote.address, 'udp', undefined, 'client not allowed: no answer');
    const decision = answerDnsQuery(message, options);
    record(client, 'udp', decision);
    if (decision.reply) udp.send(decision.reply, remote.port, remote.address, (error) => {
      if (error) deps.log(`dns reply to ${client} failed: ${error.message}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen for DNS on ${dns.listen.host}:${dns.listen.port}/udp: ${error.code ?? error.message}`)));
    udp.bind({ address: dns.listen.host, port: dns.listen.port, exclusive: true }, () => {
      udp.removeAllListeners('error');
      udp.on('error', (error) => deps.log(`dns udp error: ${error.message}`));
      resolve();
    });
  });
  const port = udp.address().port;

  const open = new Set<Socket>();
  const tcp: Server = createServer((socket) => {
    socket.on('error', () => {});
    const client = allowed(socket.remoteAddress);
    if (!client || open.size >= TCP_MAX_CONNECTIONS) {
      record(client ?? String(socket.remoteAddress), 'tcp', undefined, client ? `too many DNS connections (max ${TCP_MAX_CONNECTIONS})` : 'client not allowed: no answer');
      socket.destroy();
      return;
    }
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    let buffered = Buffer.alloc(0);
    let answered = 0;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (length > TCP_MAX_MESSAGE) {
          record(client, 'tcp', undefined, `a ${length}-byte DNS message over tcp: too large, closed`);
          socket.destroy();
          return;
        }
        if (buffered.length < 2 + length) return;
        const decision = answerDnsQuery(buffered.subarray(2, 2 + length), options);
        buffered = buffered.subarray(2 + length);
        record(client, 'tcp', decision);
        if (!decision.reply) {
          socket.destroy();
          return;
        }
        const size = Buffer.alloc(2);
        size.writeUInt16BE(decision.reply.length);
        socket.write(Buffer.concat([size, decision.reply]));
        if (++answered >= TCP_MAX_QUERIES) {
          socket.end();
          return;
        }
      }
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', (error: NodeJS.ErrnoException) =>
        reject(new Error(`cannot listen for DNS on ${dns.listen.host}:${port}/tcp: ${error.code ?? error.message}`)));
      tcp.listen({ host: dns.listen.host, port, exclusive: true }, () => {
        tcp.removeAllListeners('error');
        tcp.on('error', (error) => deps.log(`dns tcp error: ${error.message}`));
        resolve();
      });
    });
  } catch (error) {
    udp.close();
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    address: { host: dns.listen.host, port },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        let left = 2;
        const done = (): void => {
          if (--left === 0) {
            flood.flush();
            resolve();
          }
        };
        tcp.close(done);
        udp.close(done);
      });
      return closing;
    },
  };
}
