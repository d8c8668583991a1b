// The host's services database (/etc/services format), read the way pfctl reads it: `pfctl -sr`
// prints an `=` or `!=` port through getservbyport(port, proto), so a port the file names comes
// back as that name (macOS names about 4,200 TCP ports at or above 1024: 8080 is `http-alt`, 5000
// `commplex-main`; domain.md §9). Comparing a loaded anchor with the compiled one must go through
// the same file, not a short table of well-known names.

import { readFileSync } from 'node:fs';

export type PortProto = 'tcp' | 'udp';

export interface ServicesDb {
  /** The name getservbyport() gives: the first line for that port and protocol. */
  nameOf(port: number, proto: PortProto): string | undefined;
  /** The port getservbyname() gives: the first line whose name or alias matches. */
  portOf(name: string, proto: PortProto): number | undefined;
  /** The port whose getservbyport() name this is, or undefined when none or several have it. */
  portPrintedAs(name: string, proto: PortProto): number | undefined;
}

/** Where macOS (and most Unixes) keep it. */
export const DEFAULT_SERVICES_FILE = '/etc/services';

// Parses /etc/services text: `name port/proto [aliases…] [# comment]`, first line wins.
export function parseServices(text: string): ServicesDb {
  const byPort = new Map<string, string>();
  const byName = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const fields = raw.replace(/#.*$/, '').trim().split(/\s+/);
    if (fields.length < 2) continue;
    const m = /^(\d{1,5})\/(tcp|udp)$/.exec(fields[1]!);
    if (!m) continue;
    const port = Number(m[1]);
    if (port > 65535) continue;
    const proto = m[2]!;
    const name = fields[0]!;
    if (!byPort.has(`${proto}/${port}`)) byPort.set(`${proto}/${port}`, name);
    for (const n of [name, ...fields.slice(2)]) if (!byName.has(`${proto}/${n}`)) byName.set(`${proto}/${n}`, port);
  }
  // A printed name maps back to a port only when exactly one port prints as it (macOS has a few
  // names on two ports, e.g. `meter` on 570 and 571): then pf's output cannot tell them apart.
  const printed = new Map<string, number | null>();
  for (const [key, name] of byPort) {
    const [proto, port] = key.split('/') as [string, string];
    const k = `${proto}/${name}`;
    printed.set(k, printed.has(k) ? null : Number(port));
  }
  return {
    nameOf: (port, proto) => byPort.get(`${proto}/${port}`),
    portOf: (name, proto) => byName.get(`${proto}/${name}`),
    portPrintedAs: (name, proto) => printed.get(`${proto}/${name}`) ?? undefined,
  };
}

const cache = new Map<string, { text: string; db: ServicesDb }>();

// Reads a services file (parsed once per content); a missing or unreadable file is an empty
// database (names then stay as printed and fail the comparison: the safe direction).
export function loadServices(path: string = DEFAULT_SERVICES_FILE): ServicesDb {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // empty database
  }
  const hit = cache.get(path);
  if (hit?.text === text) return hit.db;
  const db = parseServices(text);
  cache.set(path, { text, db });
  return db;
}

// The services file to use: $NANOPOLICY_SERVICES_FILE (tests, or a host whose pf reads another
// file), else /etc/services.
export function servicesFileFrom(env: NodeJS.ProcessEnv): string {
  return env.NANOPOLICY_SERVICES_FILE || DEFAULT_SERVICES_FILE;
}
