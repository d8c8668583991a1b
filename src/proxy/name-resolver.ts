// How the proxy resolves a name without ever holding a libuv pool thread: the hosts file read by
// us, then DNS through c-ares (dns.Resolver: no threadpool, a timeout and a try count of our own,
// cancellable). getaddrinfo, which the proxy used before, runs on the pool's four threads and
// cannot be cancelled: names whose DNS never answers blocked all four, and every other lookup
// (hosts-file names included) failed for minutes. Lookups of one name share one query.

import { Resolver } from 'node:dns';
import { readFileSync, statSync } from 'node:fs';
import { hostsFileAddresses } from './hosts-file.ts';
import type { Lookup, LookupAddress } from './resolve-checked.ts';

export interface ResolverOptions {
  /** Default /etc/hosts (in the lab, `ip netns exec` bind-mounts /etc/netns/NS/hosts there). */
  hostsFile?: string;
  /** Only the hosts file: no DNS query at all (tests, labs). */
  hostsOnly?: boolean;
  /** DNS servers instead of resolv.conf's. */
  servers?: string[];
  /** The whole lookup's budget; c-ares gives up within it and the query is cancelled. */
  timeoutMs: number;
}

// A lookup function, and close() to cancel whatever is in flight.
export function nameResolver(options: ResolverOptions): { lookup: Lookup; close(): void } {
  const hostsFile = options.hostsFile ?? '/etc/hosts';
  const inFlight = new Map<string, Promise<LookupAddress[]>>();
  const resolvers = new Set<Resolver>();
  let hosts = { text: '', mtimeMs: -1, size: -1 };
  // The hosts file, re-read when it changed (the lab rewrites it to rebind names).
  const hostsText = (): string => {
    try {
      const st = statSync(hostsFile);
      if (st.mtimeMs !== hosts.mtimeMs || st.size !== hosts.size) hosts = { text: readFileSync(hostsFile, 'utf8'), mtimeMs: st.mtimeMs, size: st.size };
    } catch {
      hosts = { text: '', mtimeMs: -1, size: -1 };
    }
    return hosts.text;
  };
  // One DNS lookup: A and AAAA at once on a resolver of its own, so cancelling it cancels only it.
  const query = (name: string): Promise<LookupAddress[]> => {
    // c-ares: `timeout` is the first try's wait (it doubles per retry); two tries fit the budget.
    const resolver = new Resolver({ timeout: Math.max(50, Math.floor(options.timeoutMs / 3)), tries: 2 });
    if (options.servers) resolver.setServers(options.servers);
    resolvers.add(resolver);
    let timer: NodeJS.Timeout | undefined;
    const ask = (family: 4 | 6): Promise<LookupAddress[] | NodeJS.ErrnoException> => new Promise((resolve) => {
      const done = (error: NodeJS.ErrnoException | null, addresses: string[]): void =>
        resolve(error ?? addresses.map((address) => ({ address, family })));
      if (family === 4) resolver.resolve4(name, done);
      else resolver.resolve6(name, done);
    });
    const answer = Promise.all([ask(4), ask(6)]).then(([v4, v6]) => {
      const found = [...(Array.isArray(v4) ? v4 : []), ...(Array.isArray(v6) ? v6 : [])];
      if (found.length > 0) return found;
      const error = !Array.isArray(v4) ? v4 : !Array.isArray(v6) ? v6 : undefined;
      throw Object.assign(new Error(`no address for ${name}`), { code: error?.code ?? 'ENOTFOUND' });
    });
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEOUT' })), options.timeoutMs);
    });
    return Promise.race([answer, deadline]).finally(() => {
      clearTimeout(timer);
      resolver.cancel();
      resolvers.delete(resolver);
    });
  };
  const lookup: Lookup = (name) => {
    const listed = hostsFileAddresses(hostsText(), name);
    if (listed.length > 0) return Promise.resolve(listed);
    if (options.hostsOnly) return Promise.reject(Object.assign(new Error(`${name} is not in ${hostsFile}`), { code: 'ENOTFOUND' }));
    const key = name.toLowerCase();
    const running = inFlight.get(key);
    if (running) return running;
    const started = query(key).finally(() => inFlight.delete(key));
    inFlight.set(key, started);
    return started;
  };
  return {
    lookup,
    close() {
      for (const resolver of resolvers) resolver.cancel();
      resolvers.clear();
    },
  };
}
