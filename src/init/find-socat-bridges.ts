// Finds the socat bridges an install's script starts: `socat TCP-LISTEN:PORT,… TCP:HOST:PORT`
// (TCP4/TCP6 and -CONNECT spellings too, in either order), with simple `NAME=value` assignments of
// the same script filled in. What a bridge was bound to is kept only to say why it changes.

import { splitShellCommands } from './shell-commands.ts';

export interface FoundBridge {
  /** Path as shown to the owner (relative to the install). */
  file: string;
  line: number;
  listen: number;
  host: string;
  port: number;
  /** Written as [v6]:port (TCP6). */
  ipv6: boolean;
  /** The old `bind=` value as written (`$VM_IP`), or undefined when it listened everywhere. */
  bind?: string;
  /** The words of the command, for the comment above the new line. */
  words: string[];
}

/** A socat line that could not become a bridge, and why. */
export interface UnusableSocat {
  file: string;
  line: number;
  reason: string;
  words: string[];
}

export interface ScriptBridges {
  bridges: FoundBridge[];
  unusable: UnusableSocat[];
  unterminatedQuoteLine?: number;
}

// socat options that take the next word as their value.
const OPTIONS_WITH_VALUE = new Set(['-lf', '-lp', '-t', '-T', '-b', '-r', '-R']);
const LISTEN = /^(TCP|TCP4|TCP6)-(LISTEN|L)$/i;
const CONNECT = /^(TCP|TCP4|TCP6)(-CONNECT)?$/i;

// Every socat bridge started by one script's text.
export function findSocatBridges(file: string, text: string): ScriptBridges {
  const { commands, unterminatedQuoteLine } = splitShellCommands(text);
  const vars = new Map<string, string>();
  const bridges: FoundBridge[] = [];
  const unusable: UnusableSocat[] = [];
  for (const { line, words } of commands) {
    const assignments = words.filter((w, i) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(w) && words.slice(0, i).every((x) => x === 'export' || x === 'readonly' || x === 'local' || /^[A-Za-z_][A-Za-z0-9_]*=/.test(x)));
    for (const a of assignments) {
      const eq = a.indexOf('=');
      vars.set(a.slice(0, eq), a.slice(eq + 1));
    }
    const at = words.findIndex((w) => w === 'socat' || w.endsWith('/socat'));
    if (at < 0) continue;
    const args: string[] = [];
    for (let i = at + 1; i < words.length && args.length < 2; i++) {
      const w = words[i]!;
      if (args.length === 0 && w.startsWith('-') && w.length > 1) {
        if (OPTIONS_WITH_VALUE.has(w)) i++;
        continue;
      }
      args.push(w);
    }
    const skip = (reason: string) => unusable.push({ file, line, reason, words });
    if (args.length < 2) {
      skip('socat needs two addresses');
      continue;
    }
    const [a, b] = args as [string, string];
    const listenFirst = LISTEN.test(typeOf(a));
    const listenAddr = listenFirst ? a : LISTEN.test(typeOf(b)) ? b : undefined;
    const connectAddr = listenFirst ? b : a;
    if (listenAddr === undefined) {
      skip('neither address is a TCP listener (TCP-LISTEN:PORT)');
      continue;
    }
    if (!CONNECT.test(typeOf(connectAddr))) {
      skip(`the other address is "${typeOf(connectAddr)}", not a TCP target (TCP:HOST:PORT)`);
      continue;
    }
    const listen = parseListen(listenAddr, vars);
    if (typeof listen === 'string') {
      skip(listen);
      continue;
    }
    const target = parseTarget(connectAddr, vars);
    if (typeof target === 'string') {
      skip(target);
      continue;
    }
    bridges.push({ file, line, listen: listen.port, ...target, ...(listen.bind !== undefined ? { bind: listen.bind } : {}), words });
  }
  return { bridges, unusable, ...(unterminatedQuoteLine !== undefined ? { unterminatedQuoteLine } : {}) };
}

function typeOf(address: string): string {
  const colon = address.indexOf(':');
  return colon < 0 ? address : address.slice(0, colon);
}

// "TCP-LISTEN:18443,fork,bind=$VM_IP" → port 18443, bind "$VM_IP".
function parseListen(address: string, vars: Map<string, string>): { port: number; bind?: string } | string {
  const [head, ...options] = address.slice(address.indexOf(':') + 1).split(',');
  const portText = expand(head ?? '', vars);
  if (portText === undefined) return `the listen port "${head}" is a variable the script does not set`;
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) return `the listen port "${portText}" is not a port number`;
  const bind = options.find((o) => /^bind=/i.test(o))?.slice(5);
  return { port: Number(portText), ...(bind !== undefined ? { bind } : {}) };
}

// "TCP:bitwarden.example:443,nodelay" or "TCP6:[2001:db8::1]:443" → host and port.
function parseTarget(address: string, vars: Map<string, string>): { host: string; port: number; ipv6: boolean } | string {
  const rest = address.slice(address.indexOf(':') + 1).split(',')[0] ?? '';
  const expanded = expand(rest, vars);
  if (expanded === undefined) return `the target "${rest}" uses a variable the script does not set`;
  const m = /^\[([0-9A-Fa-f:.]+)\]:([0-9]{1,5})$/.exec(expanded) ?? /^([A-Za-z0-9._-]+):([0-9]{1,5})$/.exec(expanded);
  if (!m) return `the target "${expanded}" is not HOST:PORT`;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `the target port ${m[2]} is not a port number`;
  return { host: m[1]!, port, ipv6: expanded.startsWith('[') };
}

// Fills in $NAME, ${NAME} and ${NAME:-default} from the script's own assignments; undefined when
// a variable is unknown (it came from the environment: init cannot know its value).
function expand(text: string, vars: Map<string, string>): string | undefined {
  let unknown = false;
  const out = text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, braced: string | undefined, dflt: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    const value = vars.get(name) ?? dflt;
    if (value === undefined || value.includes('$')) {
      unknown = true;
      return '';
    }
    return value;
  });
  return unknown ? undefined : out;
}
