// The proxy server: one listener per door (the CONNECT proxy, and a transparent door per listed
// destination port), each letting in only the VM's addresses; a shared cap on connections that
// fails fairly; and each accepted connection handed to the egress core through its door.
// Usable in-process (tests) and from main.

import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AuditRecord, ProxyConfig } from '../formats/proxy-config.ts';
import { openAuditLog } from './audit-log.ts';
import { Tunnel, type CoreContext, type Connect, type DoorKind } from './egress-core.ts';
import { openConnectDoor } from './door-connect.ts';
import { openTransparentDoor } from './door-transparent.ts';
import { cidrContains, parseCidr, parseIp, type Cidr, type IpBytes } from '../net/ip-address.ts';
import type { Lookup } from './resolve-checked.ts';
import { nameResolver } from './name-resolver.ts';
import { liveHostAddresses } from './host-addresses.ts';
import { startDnsResponder, type RunningDnsResponder } from './dns-responder.ts';
import { refusalSummary } from './refusal-summary.ts';
import { pickEvictee } from './fair-share.ts';
import type { Injector } from '../inject/injector.ts';
import type { InjectAuditRecord } from '../inject/inject-audit.ts';

export type { Connect } from './egress-core.ts';

export interface ProxyDeps {
  /** Resolves a name to all its addresses; default: the hosts file, then DNS through c-ares. */
  lookup?: Lookup;
  /** The hosts file read before DNS; default /etc/hosts. */
  hostsFile?: string;
  /** Resolve from the hosts file alone, never asking DNS (tests and labs). */
  hostsOnly?: boolean;
  /** DNS servers ("address" or "address:port") instead of the system's resolv.conf ones. */
  dnsServers?: string[];
  /** Opens the upstream connection to a checked address; default net.connect (half-open allowed). */
  connect?: Connect;
  /** The host's own addresses, always refused; default read live from the interfaces. */
  hostAddresses?: () => string[];
  /** Milliseconds since the epoch, for audit times and durations; default Date.now. */
  now?: () => number;
  /** Diagnostics for the operator (not decisions: those go to the audit log); default none. */
  log?: (line: string) => void;
  /** Credential injection (built from config.inject by main.ts, or by a test). */
  injector?: Injector;
  /** Refusal rate limit: default REFUSAL_WINDOW_MS and REFUSALS_PER_WINDOW (tests shorten it). */
  refusals?: { windowMs: number; perWindow: number };
}

export interface RunningProxy {
  address: { host: string; port: number };
  /** Where each transparent door listens, in config order. */
  transparent: Array<{ host: string; port: number; for: number }>;
  /** Where the DNS responder listens (UDP and TCP), when config.dns is set. */
  dnsAddress?: { host: string; port: number };
  /** Connections open now (requests being read and tunnels). */
  connections(): number;
  /** Writes one record of the proxy's own (a secret that could not be read again) to the audit log. */
  record(record: object): void;
  /** Stops accepting, destroys every open connection (each gets its audit record), closes the log. */
  close(): Promise<void>;
}

/** Name lookups one client may have in flight at once for one rule. */
export const LOOKUPS_PER_RULE = 8;
/** Refusals per client logged one by one in each window; the rest are summarised. */
export const REFUSAL_WINDOW_MS = 10_000;
export const REFUSALS_PER_WINDOW = 20;

// Starts listening; resolves once every door is bound, rejects when one cannot be bound.
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
  const write = (record: AuditRecord): void => {
    try {
      auditLog.write(record);
    } catch (error) {
      log(`audit log write failed: ${(error as Error).message}`);
    }
  };
  const gate = refusalSummary({
    windowMs: deps.refusals?.windowMs ?? REFUSAL_WINDOW_MS, perWindow: deps.refusals?.perWindow ?? REFUSALS_PER_WINDOW,
    perWindowNotAllowed: 1, maxClients: 64, now, write,
  });
  const given = deps.hostAddresses;
  const hostAddresses = given ? () => given().flatMap((a) => parseIp(a) ?? []) : liveHostAddresses(now);
  const resolver = deps.lookup ? undefined : nameResolver({ hostsFile: deps.hostsFile, hostsOnly: deps.hostsOnly, servers: deps.dnsServers, timeoutMs: config.timeouts.connectMs });
  const lookups = new Map<string, number>();
  const ctx: CoreContext = {
    config, deny, hostAddresses, lookup: deps.lookup ?? resolver!.lookup, connect: deps.connect ?? defaultConnect, now,
    audit: (record) => gate.record(record, true),
    ...(deps.injector && { injector: deps.injector, auditInject: (record: InjectAuditRecord) => write(record as unknown as AuditRecord) }),
    takeLookupSlot: (client) => {
      const n = lookups.get(client) ?? 0;
      if (n >= LOOKUPS_PER_RULE) return false;
      lookups.set(client, n + 1);
      return true;
    },
    giveLookupSlot: (client) => {
      const n = (lookups.get(client) ?? 1) - 1;
      if (n <= 0) lookups.delete(client);
      else lookups.set(client, n);
    },
  };
  // Every accepted client, until its socket is closed: a refused one still draining its answer
  // holds its slot too, so a flood of refused requests cannot pile up sockets past the cap.
  const open = new Map<Socket, Tunnel>();

  // Accepts one client at a door: who, how many, then the door reads where it wants to go.
  const accept = (socket: Socket, door: DoorKind, port: number): void => {
    socket.on('error', () => {}); // errors before a Tunnel owns the socket
    const client = clientAddress(socket.remoteAddress);
    const refusedRecord = (reason: string): AuditRecord => ({
      time: new Date(now()).toISOString(), client: client?.text ?? String(socket.remoteAddress), name: '', port: door === 'transparent' ? port : 0,
      decision: 'refused', reason, bytesUp: 0, bytesDown: 0, durationMs: 0, ...(door !== 'connect' && { door }) });
    // Not the VM: close without a byte, so a scanner learns nothing about what listens here.
    if (!client || !allow.some((c) => cidrContains(c, client.ip))) {
      gate.record(refusedRecord('client not allowed'), false);
      socket.destroy();
      return;
    }
    if (open.size >= config.maxConnections) {
      // Fail fairly: the group holding the most slots gives up its longest-idle connection, so
      // idle tunnels re-opened as fast as they close cannot keep every other name out.
      const victim = pickEvictee([...open.values()]);
      if (victim) victim.abort(`closed to make room: ${victim.group()} held the most of ${config.maxConnections} connections`);
      else {
        gate.record(refusedRecord(`too many connections (max ${config.maxConnections})`), true);
        const body = 'too many connections\n';
        // Written and closed at once: a client past the cap gets no lingering socket of its own.
        if (door === 'connect') socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
        else socket.end();
        socket.destroySoon();
        return;
      }
    }
    const tunnel = new Tunnel(socket, client.text, ctx, door);
    open.set(socket, tunnel);
    socket.once('close', () => open.delete(socket));
    if (door === 'connect') openConnectDoor(tunnel);
    else openTransparentDoor(tunnel, port);
  };

  const servers: Server[] = [];
  const closeAll = (): void => {
    for (const s of servers) s.close();
    resolver?.close();
    gate.stop();
    auditLog.close();
  };
  let proxyAddress: { host: string; port: number };
  const transparent: RunningProxy['transparent'] = [];
  let dns: RunningDnsResponder | undefined;
  try {
    proxyAddress = await listen(config.listen, (s) => accept(s, 'connect', 0), servers, log);
    for (const door of config.transparent ?? []) {
      const at = await listen(door.listen, (s) => accept(s, 'transparent', door.port), servers, log);
      transparent.push({ ...at, for: door.port });
    }
    // The DNS responder with the doors, all or nothing: a proxy whose responder could not start is
    // not the one enforce asked for. It caps its own records (audit-flood.ts), so it writes directly.
    if (config.dns) dns = await startDnsResponder(config, { allow, audit: write, now, log });
  } catch (error) {
    closeAll();
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    address: proxyAddress,
    transparent,
    ...(dns ? { dnsAddress: dns.address } : {}),
    connections: () => open.size,
    record: (record: object) => write(record as AuditRecord),
    close() {
      closing ??= Promise.all([...servers.map((server) => new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const [socket, tunnel] of [...open]) {
          tunnel.abort('proxy stopped');
          socket.destroy();
        }
      })), dns?.close()]).then(() => {
        gate.flush();
      }).finally(() => closeAll());
      return closing;
    },
  };
}

// Binds one door's listener; resolves with the bound address.
async function listen(at: { host: string; port: number }, onSocket: (socket: Socket) => void, servers: Server[], log: (line: string) => void): Promise<{ host: string; port: number }> {
  const server = createServer({ allowHalfOpen: true, noDelay: true }, onSocket);
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      reject(new Error(`cannot listen on ${at.host}:${at.port}: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
    };
    server.once('error', onError);
    server.listen({ host: at.host, port: at.port, exclusive: true }, () => {
      server.off('error', onError);
      server.on('error', (error) => log(`server error: ${error.message}`));
      resolve();
    });
  });
  const bound = server.address();
  return { host: at.host, port: typeof bound === 'object' && bound ? bound.port : at.port };
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
