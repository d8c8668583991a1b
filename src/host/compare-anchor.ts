// Reading a loaded pf anchor back (`pfctl -a X -sr`) and checking it is the one we meant.
//
// pf does not print rules the way they were written: macros are substituted, `{ a, b }` lists are
// expanded into one rule per element, `inet` is added, `port 67` becomes `port = bootps` and
// `port 8080` `port = http-alt` (getservbyport() over the host's services file: on macOS about
// 4,200 named ports, domain.md §9), `flags S/SA keep state` is added to pass rules, `from any to
// any` is printed as `all`. A text comparison would always fail, so both sides are reduced to each
// rule's essentials — action (with `return`), direction, `log`, `quick`, interface, protocol,
// source and destination addresses, ports — and compared as multisets. Ports are compared through
// the same services database pf printed with. Anything pf dropped, added or changed among those
// fails the check; formatting, state options and labels do not. A name the database does not know
// stays as written, so an unexpected spelling fails loudly (the safe direction).

import { loadServices, type PortProto, type ServicesDb } from './services-db.ts';

const STOP = new Set(['flags', 'keep', 'modulate', 'synproxy', 'no', 'label', 'tag', 'tagged', 'user', 'group',
  'icmp-type', 'icmp6-type', 'queue', 'rtable', 'probability', 'allow-opts', 'fragment', 'os', 'max-src-conn',
  'route-to', 'reply-to', 'dup-to', 'tos', 'set', 'prio', 'state', 'divert-to', 'divert-reply']);

// The essential rules an anchor source loads, given the `-D` macros passed to pfctl.
export function expectedRuleKeys(source: string, defines: Readonly<Record<string, string>>, services: ServicesDb = loadServices()): string[] {
  const macros = new Map<string, string>();
  const keys: string[] = [];
  const text = source.replace(/\\\n/g, ' ');
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const def = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (def) {
      const name = def[1]!;
      // -D wins over a definition in the file, as in pfctl.
      if (!(name in defines)) macros.set(name, unquote(expand(def[2]!, macros, defines)));
      continue;
    }
    if (!/^(pass|block)\b/.test(line)) continue;
    for (const rule of expandLists(tokenize(expand(line, macros, defines)))) keys.push(ruleKey(rule, services));
  }
  return keys.sort();
}

// The essential rules pfctl printed for an anchor.
export function loadedRuleKeys(printed: string, services: ServicesDb = loadServices()): string[] {
  const keys: string[] = [];
  for (const raw of printed.split('\n')) {
    const line = raw.trim();
    if (!/^(pass|block)\b/.test(line)) continue;
    for (const rule of expandLists(tokenize(line))) keys.push(ruleKey(rule, services));
  }
  return keys.sort();
}

export interface AnchorComparison {
  same: boolean;
  /** Meant but not loaded. */
  missing: string[];
  /** Loaded but not meant. */
  extra: string[];
}

// Compares the meant and the loaded essential rules as multisets, ports through `services`
// (default: this host's /etc/services, which is what pfctl printed with).
export function compareAnchor(
  source: string,
  defines: Readonly<Record<string, string>>,
  printed: string,
  services: ServicesDb = loadServices(),
): AnchorComparison {
  const expected = expectedRuleKeys(source, defines, services);
  const loaded = loadedRuleKeys(printed, services);
  const missing = multisetMinus(expected, loaded);
  const extra = multisetMinus(loaded, expected);
  return { same: missing.length === 0 && extra.length === 0 && expected.length > 0, missing, extra };
}

function multisetMinus(a: readonly string[], b: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const k of b) left.set(k, (left.get(k) ?? 0) + 1);
  const out: string[] = [];
  for (const k of a) {
    const n = left.get(k) ?? 0;
    if (n > 0) left.set(k, n - 1);
    else out.push(k);
  }
  return out;
}

function expand(text: string, macros: Map<string, string>, defines: Readonly<Record<string, string>>): string {
  let out = text;
  for (let i = 0; i < 8 && out.includes('$'); i++) {
    out = out.replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, name: string) => defines[name] ?? macros.get(name) ?? whole);
  }
  return out;
}

function unquote(value: string): string {
  const v = value.trim();
  return v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

function tokenize(line: string): string[] {
  return line.replace(/"/g, ' ').replace(/([{},!()])/g, ' $1 ').split(/\s+/).filter((t) => t !== '' && t !== ',');
}

// Expands every `{ a b }` list into one token list per combination, as pf does when it loads.
function expandLists(tokens: string[]): string[][] {
  const open = tokens.indexOf('{');
  if (open < 0) return [tokens];
  const close = tokens.indexOf('}', open);
  if (close < 0) return [tokens];
  const items = tokens.slice(open + 1, close);
  const out: string[][] = [];
  for (const item of items.length > 0 ? items : ['']) {
    out.push(...expandLists([...tokens.slice(0, open), ...(item ? [item] : []), ...tokens.slice(close + 1)]));
  }
  return out;
}

// Reduces one rule's tokens to its essentials, as one comparable string.
function ruleKey(tokens: readonly string[], services: ServicesDb): string {
  const parts: Record<string, string[]> = { action: [], on: [], proto: [], from: [], to: [], fromPort: [], toPort: [] };
  let section: 'head' | 'from' | 'to' | 'stop' = 'head';
  let flags = '';
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (i === 0) {
      parts.action!.push(t);
      continue;
    }
    if (section === 'stop') continue;
    if (STOP.has(t)) {
      section = 'stop';
      continue;
    }
    if (t === 'return' || t === 'return-rst' || t === 'return-icmp') flags += ' return';
    else if (t === 'in' || t === 'out') flags += ` ${t}`;
    else if (t === 'log') flags += ' log';
    else if (t === 'quick') flags += ' quick';
    else if (t === 'on') parts.on!.push(tokens[++i] ?? '');
    else if (t === 'proto') parts.proto!.push(tokens[++i] ?? '');
    else if (t === 'from') section = 'from';
    else if (t === 'to') section = 'to';
    else if (t === 'port') {
      let value = tokens[++i] ?? '';
      let op = '';
      if (value === '!' && tokens[i + 1] === '=') {
        // tokenize() split `!=` into `!` `=`.
        value = '!=';
        i++;
      }
      if (/^(=|!=|<|>|<=|>=)$/.test(value)) {
        op = value === '=' ? '' : value;
        value = tokens[++i] ?? '';
      }
      // An operator glued to the value (`<=80`) is split here.
      const glued = /^(<=|>=|<|>|=)(.+)$/.exec(value);
      if (glued) {
        op = glued[1] === '=' ? '' : glued[1]!;
        value = glued[2]!;
      }
      (section === 'from' ? parts.fromPort! : parts.toPort!).push(`${op}\u0000${value}`);
    } else if (section === 'from' || section === 'to') {
      if (t === 'any' || t === 'all') continue;
      parts[section]!.push(t === '!' ? '!' : t);
    }
    // `all`, `inet`, `inet6`, `drop` and the like carry no meaning the other parts do not.
  }
  // Ports last: the protocol names which half of the services database pf looked them up in.
  const proto = parts.proto!.length === 1 && (parts.proto![0] === 'tcp' || parts.proto![0] === 'udp') ? (parts.proto![0] as PortProto) : undefined;
  for (const list of [parts.fromPort!, parts.toPort!]) {
    for (let k = 0; k < list.length; k++) {
      const [op, value] = list[k]!.split('\u0000') as [string, string];
      list[k] = op + portKey(value, proto, services);
    }
  }
  // `tagged X` is essential wherever pf prints it (after the state options): without it a door's
  // high port would open to the VM directly, not only through the rdr that tags its packets.
  const tagged = tokens.indexOf('tagged');
  return [
    parts.action!.join(''),
    flags.trim(),
    tagged > 0 ? `tagged ${tokens[tagged + 1] ?? ''}` : '',
    parts.on!.length ? `on ${parts.on!.join(',')}` : '',
    parts.proto!.length ? `proto ${parts.proto!.join(',')}` : '',
    `from ${parts.from!.join('') || 'any'}${parts.fromPort!.length ? ` port ${parts.fromPort!.join(',')}` : ''}`,
    `to ${parts.to!.join('') || 'any'}${parts.toPort!.length ? ` port ${parts.toPort!.join(',')}` : ''}`,
  ].filter((p) => p !== '').join(' ');
}

// One port as a comparable value: its number, unless pf's printed name for it is shared by several
// ports (then the name itself, since the printed rule cannot say which). A name is mapped back
// through the port printed as it, else (written in a source) through getservbyname().
function portKey(value: string, proto: PortProto | undefined, services: ServicesDb): string {
  if (proto === undefined) return value;
  let port: number | undefined;
  if (/^\d{1,5}$/.test(value)) port = Number(value);
  else port = services.portPrintedAs(value, proto) ?? services.portOf(value, proto);
  if (port === undefined) return value;
  const name = services.nameOf(port, proto);
  if (name !== undefined && services.portPrintedAs(name, proto) === undefined) return name;
  return String(port);
}
