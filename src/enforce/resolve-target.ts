// A bridge to a DNS name is resolved once, by enforce, and socat gets the address: socat would
// resolve the name again for every connection, so whoever controls that name's DNS could point
// the bridge at the host's loopback, the LAN or the VM network at will (DNS rebinding). Every
// answer is checked before use, and --supervise re-resolves to follow (or refuse) a change.

import { promises as dns } from 'node:dns';
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Bridge, Policy } from '../compiler/policy.ts';
import { parseCidr4 } from '../compiler/effective-network.ts';
import { inCidr, parseIpv4, UNROUTABLE_IPV4 } from '../net/ipv4.ts';
import { canonicalIpv6, unroutableIpv6 } from '../net/ipv6.ts';

/** Every address a name resolves to, in the resolver's order. */
export type Lookup = (name: string) => Promise<string[]>;

/** Set to a hosts-format file: names resolve from it alone, never from the system (tests, labs). */
export const HOSTS_FILE_ENV = 'NANOPOLICY_HOSTS_FILE';

// The system resolver (getaddrinfo: /etc/hosts, then DNS), every address.
export const systemLookup: Lookup = async (name) => (await dns.lookup(name, { all: true, verbatim: true })).map((a) => a.address);

// The resolver enforce uses: a hosts file when the environment names one, else the system's.
export function lookupFor(env: NodeJS.ProcessEnv): Lookup {
  const file = env[HOSTS_FILE_ENV];
  return file ? hostsFileLookup(file) : systemLookup;
}

// Resolves from one hosts-format file ("address name alias…" lines, # comments), re-read per call
// so a changed answer is seen; an unknown name fails like getaddrinfo's ENOTFOUND.
export function hostsFileLookup(file: string): Lookup {
  return async (name) => {
    const out: string[] = [];
    for (const raw of readFileSync(file, 'utf8').split('\n')) {
      const [address, ...names] = raw.replace(/#.*$/, '').trim().split(/\s+/);
      if (address && names.some((n) => n.toLowerCase() === name.toLowerCase())) out.push(address);
    }
    if (out.length === 0) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return out;
  };
}

// The host's own addresses (every interface, loopback included), canonical.
export function hostAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(canonical(a.address) ?? a.address);
  return out;
}

// Why `address` must not be a bridge's target, or undefined when it may be.
export function forbiddenTarget(address: string, policy: Pick<Policy, 'network'>, own: ReadonlySet<string>): string | undefined {
  const text = canonical(address);
  if (text === undefined) return 'not an IP address';
  const v4 = isIPv4(text) ? text : mappedIpv4(text);
  if (v4 !== undefined) {
    const parsed = parseIpv4(v4);
    if (!parsed.ok) return 'not an IP address';
    const range = UNROUTABLE_IPV4.find((r) => inCidr(parsed.value, r.cidr));
    if (range) return short(range.what);
    if (parsed.value === 0xffffffff) return 'the broadcast address';
    const subnet = parseCidr4(policy.network.subnet);
    if (subnet.ok && inCidr(parsed.value, subnet.value)) return `inside the VM subnet ${policy.network.subnet}`;
  } else {
    const why = unroutableIpv6(text);
    if (why !== undefined) return short(why);
  }
  if (own.has(text) || (v4 !== undefined && own.has(v4))) return "one of this host's own addresses";
  return undefined;
}

// "loopback (::1): the host itself, …" → "loopback (::1)".
function short(what: string): string {
  return what.replace(/\)[:,].*$/, ')');
}

// An IPv4-mapped IPv6 address (::ffff:127.0.0.1, canonically ::ffff:7f00:1) reaches the IPv4
// address it wraps: check that one.
function mappedIpv4(text: string): string | undefined {
  const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(text);
  if (!m) return undefined;
  const hi = parseInt(m[1]!, 16);
  const lo = parseInt(m[2]!, 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

function canonical(address: string): string | undefined {
  const bare = address.replace(/%.*$/, '');
  if (isIPv4(bare)) return parseIpv4(bare).ok ? bare : undefined;
  return isIPv6(bare) ? canonicalIpv6(bare) : undefined;
}

export type Resolved = { ok: true; address: string } | { ok: false; message: string };

// The address a bridge connects to: an address target as written; a name resolved once, every
// answer checked (one bad answer refuses the name: a rebinding server mixes good and bad ones),
// the first answer used.
export async function resolveTarget(bridge: Bridge, policy: Pick<Policy, 'network'>, lookup: Lookup, own: ReadonlySet<string>): Promise<Resolved> {
  const { kind, host } = bridge.target;
  let answers: string[];
  if (kind !== 'dns') answers = [host];
  else {
    try {
      answers = await lookup(host);
    } catch (error) {
      return { ok: false, message: `The bridge "${bridge.name}": its target "${host}" does not resolve (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).` };
    }
    if (answers.length === 0) return { ok: false, message: `The bridge "${bridge.name}": its target "${host}" resolves to no address.` };
  }
  for (const a of answers) {
    const why = forbiddenTarget(a, policy, own);
    if (why !== undefined) {
      const what = kind === 'dns' ? `its target "${host}" resolves to ${a}, which is ${why}` : `its target ${a} is ${why}`;
      return { ok: false, message: `The bridge "${bridge.name}": ${what}; the bridge would expose that to the VM.` };
    }
  }
  return { ok: true, address: canonical(answers[0]!)! };
}
