// The proxy's configuration: the JSON file `enforce` writes and `node dist/proxy.js --config FILE`
// reads. Everything is validated here, so the running proxy never meets a value it did not expect.

import { isAbsolute } from 'node:path';
import { isIPv4 } from 'node:net';
import { invalidHostName, normaliseName } from '../net/host-name.ts';
import { parseCidr } from '../net/ip-address.ts';
import { parseInjectConfig, type InjectConfig } from './inject-config.ts';

export interface ProxyRule {
  /** The policy's egress name (e.g. "claude"), for the audit log. */
  name: string;
  /** A lowercase exact DNS name, or "*.suffix": any name strictly below suffix, never suffix itself. */
  host: string;
  port: number;
}

export interface ProxyConfig {
  format: 1;
  vm: string;
  /** The gateway address, IPv4. */
  listen: { host: string; port: number };
  /** CIDRs allowed to connect, e.g. ["192.168.64.2/32"]; anyone else is closed without a byte. */
  allowClients: string[];
  rules: ProxyRule[];
  /** Concurrent connections (tunnels and requests still being read). */
  maxConnections: number;
  /** CIDRs refused in addition to the built-in set: the VM subnet, the host's own addresses. */
  denyNetworks: string[];
  /** Absolute path of the JSON-lines audit log. */
  auditLog: string;
  /** Rotate (log -> log.1) once the log passes this size. */
  auditRotateBytes: number;
  timeouts: {
    /** Whole CONNECT head must arrive within this. */
    headerMs: number;
    /** Whole TLS ClientHello must arrive within this after "200". */
    helloMs: number;
    /** TCP connect to the checked address. */
    connectMs: number;
    /** A tunnel with no byte either way for this long is closed. */
    idleMs: number;
    /** A tunnel whose client (or server) has stopped reading what is sent to it is cut after this. */
    stallMs: number;
  };
  maxHeaderBytes: number;
  /** Largest ClientHello (all its records, with headers) read before relaying. */
  maxHelloBytes: number;
  /** Transparent doors: listeners that take the name from the ClientHello's SNI. `port` is the
   *  destination port the client dialled (rules are matched on it), `listen` where we really listen. */
  transparent?: Array<{ listen: { host: string; port: number }; port: number }>;
  /** The DNS responder on the gateway (dns-responder.ts): answers listed names with `answer`
   *  (the gateway), nothing else, and never forwards a query. */
  dns?: { listen: { host: string; port: number }; answer: string; ttl: number };
  /** Credential injection: secrets to read, what each injecting rule adds, where the CA lives. */
  inject?: InjectConfig;
}

export const PROXY_DEFAULTS = Object.freeze({
  port: 13128,
  maxConnections: 64,
  auditRotateBytes: 10 * 1024 * 1024,
  timeouts: Object.freeze({ headerMs: 10_000, helloMs: 10_000, connectMs: 10_000, idleMs: 300_000, stallMs: 30_000 }),
  maxHeaderBytes: 8192,
  // A ClientHello with post-quantum key shares is ~2 KiB; 64 KiB leaves room for any real one.
  maxHelloBytes: 65536,
});

export interface AuditRecord {
  time: string;
  /** Which door saw it: the CONNECT proxy (the default when absent), SNI on a transparent port,
   * the DNS responder, or the firewall (a refused packet the collector read from its log). */
  door?: 'connect' | 'transparent' | 'dns' | 'firewall';
  /** The client's address. */
  client: string;
  /** The name asked for (normalised), or what the request held when it named none. */
  name: string;
  port: number;
  /** The address connected to (or refused). */
  address?: string;
  decision: 'allowed' | 'refused';
  reason: string;
  /** The egress rule that matched. */
  rule?: string;
  /** The SNI the client sent, when one was read. */
  sni?: string;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  /** "open": a tunnel began relaying (its final record follows when it ends; a proxy killed
   *  meanwhile leaves this one). "summary": `count` refusals from `client` between `time` and
   *  `until`, past the number logged one by one. Absent: one connection's final decision. */
  event?: 'open' | 'summary';
  /** summary: how many refusals this record stands for. */
  count?: number;
  /** summary: the end of the window it covers. */
  until?: string;
  /** firewall: the refused packets' protocol. */
  protocol?: 'tcp' | 'udp' | 'icmp' | 'icmp6' | 'other';
}

const KEYS = ['format', 'vm', 'listen', 'allowClients', 'rules', 'maxConnections', 'denyNetworks', 'auditLog',
  'auditRotateBytes', 'timeouts', 'maxHeaderBytes', 'maxHelloBytes', 'transparent', 'dns', 'inject'];
const TIMEOUT_KEYS = ['headerMs', 'helloMs', 'connectMs', 'idleMs', 'stallMs'] as const;

// Parses and validates the JSON text of a proxy configuration; throws an Error naming the first
// problem. Optional fields (maxConnections, denyNetworks, auditRotateBytes, timeouts and each of
// its members, maxHeaderBytes, maxHelloBytes) take PROXY_DEFAULTS.
export function parseProxyConfig(text: string): ProxyConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`proxy config is not valid JSON: ${(error as Error).message}`);
  }
  const o = object(raw, 'proxy config');
  for (const key of Object.keys(o)) if (!KEYS.includes(key)) fail(`unknown key "${key}"`);
  if (o.format !== 1) fail('"format" must be 1');
  const vm = string(o.vm, 'vm');
  if (vm.length === 0) fail('"vm" must not be empty');

  const listen = listenPart(o.listen, 'listen');
  const transparent = o.transparent === undefined ? undefined : transparentPart(o.transparent, listen);
  const dns = o.dns === undefined ? undefined : dnsPart(o.dns, listen);

  const allowClients = cidrList(o.allowClients, 'allowClients');
  if (allowClients.length === 0) fail('"allowClients" must name at least one client network');
  const denyNetworks = o.denyNetworks === undefined ? [] : cidrList(o.denyNetworks, 'denyNetworks');

  if (!Array.isArray(o.rules)) fail('"rules" must be an array');
  const seen = new Set<string>();
  const rules = (o.rules as unknown[]).map((r, i) => {
    const rule = rulePart(r, `rules[${i}]`);
    const key = `${rule.host}:${rule.port}`;
    if (seen.has(key)) fail(`rules[${i}]: "${key}" is listed twice`);
    seen.add(key);
    return rule;
  });

  const auditLog = string(o.auditLog, 'auditLog');
  if (!isAbsolute(auditLog)) fail(`"auditLog" must be an absolute path, not "${auditLog}"`);

  // Credential injection (issue 23): each injecting rule must be one of the rules above.
  const inject = o.inject === undefined ? undefined : parseInjectConfig(o.inject);
  for (const r of inject?.rules ?? []) if (!rules.some((x) => x.name === r.name)) fail(`"inject.rules" names the rule "${r.name}", which "rules" does not list`);
  const t = o.timeouts === undefined ? {} : object(o.timeouts, 'timeouts');
  for (const key of Object.keys(t)) if (!(TIMEOUT_KEYS as readonly string[]).includes(key)) fail(`unknown key "timeouts.${key}"`);
  const timeouts = Object.fromEntries(TIMEOUT_KEYS.map((k) => [k,
    t[k] === undefined ? PROXY_DEFAULTS.timeouts[k] : int(t[k], `timeouts.${k}`, 1, 86_400_000)])) as ProxyConfig['timeouts'];

  return {
    format: 1,
    vm,
    listen,
    allowClients,
    rules,
    maxConnections: optionalInt(o.maxConnections, 'maxConnections', 1, 100_000, PROXY_DEFAULTS.maxConnections),
    denyNetworks,
    auditLog,
    auditRotateBytes: optionalInt(o.auditRotateBytes, 'auditRotateBytes', 4096, 2 ** 40, PROXY_DEFAULTS.auditRotateBytes),
    timeouts,
    maxHeaderBytes: optionalInt(o.maxHeaderBytes, 'maxHeaderBytes', 256, 1 << 20, PROXY_DEFAULTS.maxHeaderBytes),
    maxHelloBytes: optionalInt(o.maxHelloBytes, 'maxHelloBytes', 512, 1 << 20, PROXY_DEFAULTS.maxHelloBytes),
    ...(transparent && { transparent }),
    ...(dns && { dns }),
    ...(inject && { inject }),
  };
}

// A listening address: an IPv4 address that is not 0.0.0.0, and a port.
function listenPart(value: unknown, where: string): { host: string; port: number } {
  const o = object(value, where);
  for (const key of Object.keys(o)) if (!['host', 'port'].includes(key)) fail(`unknown key "${where}.${key}"`);
  const host = string(o.host, `${where}.host`);
  if (!isIPv4(host)) fail(`"${where}.host" must be an IPv4 address, not "${host}"`);
  // A listener on every address would also face the LAN; it belongs on the gateway address only.
  if (host === '0.0.0.0') fail(`"${where}.host" must be the gateway address, not 0.0.0.0`);
  return { host, port: int(o.port, `${where}.port`, 1, 65535) };
}

// The transparent doors: each a listen address of its own and the destination port it stands for.
function transparentPart(value: unknown, proxy: { host: string; port: number }): NonNullable<ProxyConfig['transparent']> {
  if (!Array.isArray(value)) fail('"transparent" must be an array');
  const taken = new Set([`${proxy.host}:${proxy.port}`]);
  const ports = new Set<number>();
  return (value as unknown[]).map((entry, i) => {
    const where = `transparent[${i}]`;
    const o = object(entry, where);
    for (const key of Object.keys(o)) if (!['listen', 'port'].includes(key)) fail(`unknown key "${where}.${key}"`);
    const listen = listenPart(o.listen, `${where}.listen`);
    const port = int(o.port, `${where}.port`, 1, 65535);
    const at = `${listen.host}:${listen.port}`;
    if (taken.has(at)) fail(`"${where}.listen" ${at} is already used by another listener`);
    taken.add(at);
    // Two doors for one destination port would make the port a client dialled ambiguous.
    if (ports.has(port)) fail(`"${where}.port" ${port} has a transparent door already`);
    ports.add(port);
    return { listen, port };
  });
}

// The DNS responder's settings (the responder itself lives in dns-responder.ts).
function dnsPart(value: unknown, proxy: { host: string; port: number }): NonNullable<ProxyConfig['dns']> {
  const o = object(value, 'dns');
  for (const key of Object.keys(o)) if (!['listen', 'answer', 'ttl'].includes(key)) fail(`unknown key "dns.${key}"`);
  const listen = listenPart(o.listen, 'dns.listen');
  const answer = string(o.answer, 'dns.answer');
  // The only address the responder ever hands out; anything but a plain IPv4 unicast address
  // would point the VM somewhere else.
  if (!isIPv4(answer) || answer === '0.0.0.0' || answer === '255.255.255.255') fail(`"dns.answer" must be the gateway's IPv4 address, not "${answer}"`);
  if (listen.port === proxy.port && listen.host === proxy.host) fail('"dns.listen" must differ from "listen"');
  return { listen, answer, ttl: int(o.ttl, 'dns.ttl', 0, 86_400) };
}

// One rule: a valid lowercase DNS name or "*.suffix", and a port.
function rulePart(value: unknown, where: string): ProxyRule {
  const r = object(value, where);
  for (const key of Object.keys(r)) if (!['name', 'host', 'port'].includes(key)) fail(`unknown key "${where}.${key}"`);
  const name = string(r.name, `${where}.name`);
  if (name.length === 0) fail(`"${where}.name" must not be empty`);
  const host = string(r.host, `${where}.host`);
  if (host !== normaliseName(host) || host.endsWith('.')) fail(`"${where}.host" must be lowercase without a trailing dot, not "${host}"`);
  const bare = host.startsWith('*.') ? host.slice(2) : host;
  const problem = invalidHostName(bare);
  if (problem) fail(`"${where}.host" "${host}" is not a valid name: ${problem}`);
  return { name, host, port: int(r.port, `${where}.port`, 1, 65535) };
}

// A list of CIDR strings, each checked (and kept as written).
function cidrList(value: unknown, where: string): string[] {
  if (!Array.isArray(value)) fail(`"${where}" must be an array of CIDRs`);
  return (value as unknown[]).map((c, i) => {
    const parsed = parseCidr(string(c, `${where}[${i}]`));
    if (typeof parsed === 'string') fail(`"${where}[${i}]": ${parsed}`);
    return c as string;
  });
}

// The value as a plain object, or a failure naming where it was expected.
function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`"${where}" must be an object`);
  return value as Record<string, unknown>;
}

// The value as a string, or a failure naming the field.
function string(value: unknown, where: string): string {
  if (typeof value !== 'string') fail(`"${where}" must be a string`);
  return value as string;
}

// A whole number within [min, max], or a failure naming the field and the bounds.
function int(value: unknown, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(`"${where}" must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`);
  }
  return value as number;
}

// int(), or the default when the field is absent.
function optionalInt(value: unknown, where: string, min: number, max: number, fallback: number): number {
  return value === undefined ? fallback : int(value, where, min, max);
}

// Every config error carries the same prefix, so the process's one line says where it came from.
function fail(message: string): never {
  throw new Error(`proxy config: ${message}`);
}
