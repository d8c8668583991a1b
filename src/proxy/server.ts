// The proxy server: listens on the gateway address, lets in only the VM's addresses, caps the
// connections, and hands each one to a ClientConnection. Usable in-process (tests) and from main.

import { connect, createServer, type Socket } from 'node:net';
import type { AuditRecord, ProxyConfig } from './config.ts';
import { openAuditLog } from './audit-log.ts';
import { ClientConnection, type ClientContext, type Connect } from './handle-client.ts';
import { cidrContains, parseCidr, parseIp, type Cidr, type IpBytes } from './ip-address.ts';
import { systemLookup, type Lookup } from './resolve-checked.ts';
import { liveHostAddresses } from './host-addresses.ts';
import { startDnsResponder, type RunningDnsResponder } from './dns-responder.ts';

export interface ProxyDeps {
  /** Resolves a name to all its addresses; default getaddrinfo (reads /etc/hosts). */
  lookup?: Lookup;
  /** Opens the upstream connection to a checked address; default net.connect (half-open allowed). */
  connect?: Connect;
  /** The host's own addresses, always refused; default read live from the interfaces. */
  hostAddresses?: () => string[];
  /** Milliseconds since the epoch, for audit times and durations; default Date.now. */
  now?: () => number;
  /** Diagnostics for the operator (not decisions: those go to the audit log); default none. */
  log?: (line: string) => void;
}

export interface RunningProxy {
  address: { host: string; port: number };
  /** Where the DNS responder listens (UDP and TCP), when config.dns is set. */
  dnsAddress?: { host: string; port: number };
  /** Connections open now (requests being read and tunnels). */
  connections(): number;
  /** Stops accepting, destroys every open connection (each gets its audit record), closes the log. */
  close(): Promise<void>;
}

// Starts listening; resolves once bound, rejects when the address cannot be bound.
export async function startProxy(config: ProxyConfig, deps: ProxyDeps = {}): Promise<RunningProxy> {
  const allow = config.allowClients.map(toCidr);
  const deny = config.denyNetworks.map(toCidr);
  const now = deps.now ?? Date.now;
  const log = deps.log ?? (() => {});
  let auditLog: ReturnType<typeof openAuditLog>;
  try {
    auditLog = openAuditLog(config.auditLog, config.auditRotateBytes);
  } catch (error) {
    throw new Error(`cannot open the audit log ${config.auditLog}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const audit = (record: AuditRecord): void => {
    try {
      auditLog.write(record);
    } catch (error) {
      log(`audit log write failed: ${(error as Error).message}`);
    }
  };
  const given = deps.hostAddresses;
  const hostAddresses = given ? () => given().flatMap((a) => parseIp(a) ?? []) : liveHostAddresses(now);
  const ctx: ClientContext = { config, deny, hostAddresses, lookup: deps.lookup ?? systemLookup, connect: deps.connect ?? defaultConnect, now, audit };
  // Every accepted client, until its socket is closed: a refused one still draining its answer
  // holds its slot too, so a flood of refused requests cannot pile up sockets past the cap.
  const open = new Map<Socket, ClientConnection>();

  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket: Socket) => {
    socket.on('error', () => {}); // errors before a ClientConnection owns the socket
    const client = clientAddress(socket.remoteAddress);
    const refusedRecord = (reason: string): AuditRecord => ({
      time: new Date(now()).toISOString(), client: client?.text ?? String(socket.remoteAddress), name: '', port: 0,
      decision: 'refused', reason, bytesUp: 0, bytesDown: 0, durationMs: 0 });
    // Not the VM: close without a byte, so a scanner learns nothing about what listens here.
    if (!client || !allow.some((c) => cidrContains(c, client.ip))) {
      audit(refusedRecord('client not allowed'));
      socket.destroy();
      return;
    }
    if (open.size >= config.maxConnections) {
      audit(refusedRecord(`too many connections (max ${config.maxConnections})`));
      const body = 'too many connections\n';
      // Written and closed at once: a client past the cap gets no lingering socket of its own.
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      socket.destroySoon();
      return;
    }
    const connection = new ClientConnection(socket, client.text, ctx);
    open.set(socket, connection);
    socket.once('close', () => open.delete(socket));
    connection.start();
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      auditLog.close();
      reject(new Error(`cannot listen on ${config.listen.host}:${config.listen.port}: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
    };
    server.once('error', onError);
    server.listen({ host: config.listen.host, port: config.listen.port, exclusive: true }, () => {
      server.off('error', onError);
      server.on('error', (error) => log(`server error: ${error.message}`));
      resolve();
    });
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : config.listen.port;
  let dns: RunningDnsResponder | undefined;
  if (config.dns) {
    try {
      dns = await startDnsResponder(config, { allow, audit, now, log });
    } catch (error) {
      // All or nothing: a proxy whose responder could not start is not the proxy enforce asked for.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      auditLog.close();
      throw error;
    }
  }

  let closing: Promise<void> | undefined;
  return {
    address: { host: config.listen.host, port },
    ...(dns ? { dnsAddress: dns.address } : {}),
    connections: () => open.size,
    close() {
      closing ??= Promise.all([
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const [socket, connection] of [...open]) {
            connection.abort('proxy stopped');
            socket.destroy();
          }
        }),
        dns?.close(),
      ]).then(() => undefined).finally(() => auditLog.close());
      return closing;
    },
  };
}

// Half-open allowed, so a client's FIN reaches the server while the answer still flows back.
const defaultConnect: Connect = (options) => connect({ ...options, allowHalfOpen: true, noDelay: true });

// The client's address, with an IPv4-mapped IPv6 form read as the IPv4 address it is.
function clientAddress(remote: string | undefined): { text: string; ip: IpBytes } | undefined {
  if (!remote) return undefined;
  const text = remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;
  const ip = parseIp(text);
  return ip ? { text, ip } : undefined;
}

// A CIDR from a validated config (a bad one here is a caller's bug: parseProxyConfig checks them).
function toCidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (typeof parsed === 'string') throw new Error(`proxy config: ${parsed}`);
  return parsed;
}
