// Turns peggy's "Expected … but … found" into one sentence a policy author understands.

import type { SyntaxError as PeggySyntaxError } from './generated/parser.js';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import { didYouMean } from '../did-you-mean.ts';

type Expectation = NonNullable<PeggySyntaxError['expected']>[number];

const STATEMENTS = ['allow', 'egress', 'mount', 'network', 'proxy', 'secret', 'snapshot', 'vm'];
const END = 'the end of the line';

// What to write instead, by what was expected.
const HINTS: Record<string, string> = {
  'a port number': 'A port is a number from 1 to 65535, as in "10.0.30.5:8123 via 18123".',
  'a name': 'Names are lowercase letters, digits and "-", starting with a letter, as in "homeassistant".',
  'a path': 'Write an absolute path or one starting with "~/"; put a path with spaces in double quotes.',
  "a mount mode ('ro' or 'rw')": 'Say what the VM may do with the folder: "ro" (read-only) or "rw" (read-write).',
  'a target (host:port, a.b.c.d:port or [v6]:port)':
    'Write the endpoint the bridge forwards to, as in "bitwarden.example.org:443", "10.0.30.5:8123" or "[2001:db8::5]:443".',
  "a network mode ('softnet')": 'The only network mode is softnet: "network softnet subnet 192.168.64.0/24 gateway 192.168.64.1".',
  'a subnet (a.b.c.d/n)': 'Write the VM network in CIDR form, as in "subnet 192.168.64.0/24".',
  'an IPv4 address': 'Write the gateway as four numbers, as in "gateway 192.168.64.1".',
  '"tls"': 'Bridge options are "tls", "max-conn N" and "pin sha256/BASE64", as in "via 18443 tls max-conn 8".',
  '"subnet"': 'Network options are "subnet A.B.C.D/N" and "gateway A.B.C.D".',
  '"allow-sensitive"': 'The only mount option is "allow-sensitive", for a folder the owner knowingly shares although it looks secret.',
  '":"': 'A target is HOST:PORT with no space, as in "bitwarden.example.org:443" or "10.0.30.5:8123".',
  'a host name (host.name or host.name:port)': 'List the names the VM may reach through the proxy, as in "egress claude api.anthropic.com".',
  '"max-conn"': 'The proxy line reads "proxy via PORT [max-conn N]", as in "proxy via 13128 max-conn 64".',
  'a header name (as in x-api-key:)': 'Write the header and a colon, then its value, as in "inject x-api-key: {anthropic}".',
  'a value (text with {secret} in it)': 'Write the header\'s value with the secret in braces, as in "inject authorization: Bot {discord}".',
  '"from"': 'A secret reads "secret NAME from keychain SERVICE", "from command \"PROGRAM ARGS\"" or "from file PATH".',
  '"keychain"': 'A secret comes "from keychain SERVICE", "from command \"PROGRAM ARGS\"" or "from file PATH".',
  '"env"': 'The only secret option is "env VARIABLE": the guest variable that holds its placeholder.',
  '"inject"': 'After the hosts, an egress line may add "inject HEADER: {secret}" or "websocket-token {secret}".',
  '"via"': 'A bridge reads "allow NAME HOST:PORT via LISTEN-PORT", as in "allow ha 10.0.30.5:8123 via 18123".',
};

export function rewordSyntaxError(error: PeggySyntaxError, text: string, line: number, file: string): Diagnostic {
  const column = error.location.start.column;
  const found = tokenAt(text, column - 1);
  const expected = describeAll(error.expected ?? []);
  const base = { severity: 'error' as const, file, line, column, endColumn: column + Math.max(1, found.length) };

  // A custom error() from the grammar already speaks plainly.
  if (!error.expected) {
    return {
      ...base,
      endColumn: Math.max(column + 1, error.location.end.column),
      code: 'NP103',
      message: `${capitalize(error.message.replace(/\.$/, ''))}.`,
      hint: /closing/.test(error.message)
        ? 'End the path with \'"\' before the mount mode, as in "~/My Notes" ro.'
        : 'Inside double quotes write \\" for a quote and \\\\ for a backslash; nothing else is escaped.',
    };
  }
  const statementsOnly = expected.filter((e) => e !== END);
  if (statementsOnly.length > 0 && statementsOnly.every((e) => STATEMENTS.includes(e.replace(/"/g, '')))) {
    return {
      ...base,
      code: 'NP102',
      message: `Unknown statement ${quote(found)}.`,
      hint: `${guess(found, STATEMENTS)}Each line is one of "vm NAME", "network softnet …", "allow NAME HOST:PORT via PORT …", "mount NAME PATH ro|rw", "proxy via PORT", "egress NAME HOST …", "secret NAME from …", or a "#" comment.`,
    };
  }
  const after = previousToken(text, column - 1);
  const message =
    `Expected ${joinOr(expected)}${after ? ` after ${quote(after)}` : ''}, ` +
    `but found ${found ? quote(found) : /\S/.test(text.slice(column - 1)) ? 'a space' : 'the end of the line'}.`;
  const proxyLine = /^[ \t]*proxy[ \t]/.test(text);
  // On an egress line the one ":" expected is the header's.
  const egressLine = /^[ \t]*egress[ \t]/.test(text);
  const known = expected
    .map((e) => (proxyLine && e === '"via"' ? HINTS['"max-conn"'] : egressLine && e === '":"' ? HINTS['a header name (as in x-api-key:)'] : HINTS[e]))
    .find((h) => h !== undefined);
  // A keyword written nearly right ("allow-sensitve", "max-con") is named before the general hint.
  const words = expected.filter((e) => /^"[a-z-]{2,}"$/.test(e)).map((e) => e.slice(1, -1));
  const hint = `${guess(found, words)}${known ?? ''}`.trim();
  return { ...base, code: 'NP101', message, ...(hint ? { hint } : {}) };
}

function describeAll(list: readonly Expectation[]): string[] {
  const out = new Set<string>();
  for (const e of list) {
    if (e.type === 'literal') out.add(`"${e.text}"`);
    else if (e.type === 'other' && e.description && e.description !== 'a comment') out.add(e.description);
    else if (e.type === 'end') out.add(END);
  }
  // The end of the line reads best last.
  return [...out].sort((a, b) => Number(a === END) - Number(b === END));
}

// The run of non-space characters starting at an index: what the user actually wrote there.
function tokenAt(text: string, index: number): string {
  const match = /^[^ \t]+/.exec(text.slice(index));
  const token = match ? match[0] : '';
  return token.length > 24 ? `${token.slice(0, 21)}…` : token;
}

// Punctuation right before the error ("after ':'") or else the word before it ("after 'via'").
function previousToken(text: string, index: number): string | undefined {
  const before = text.slice(0, index);
  const last = before.at(-1);
  if (last !== undefined && /[:/\[]/.test(last)) return last;
  const word = /([^ \t]+)[ \t]*$/.exec(before);
  return word?.[1];
}

function joinOr(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? 'something else';
  return `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

function quote(text: string): string {
  return `'${text}'`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// "Did you mean "allow"? " when the token is one slip away from a keyword, else nothing.
function guess(found: string, keywords: readonly string[]): string {
  const near = found === '' ? undefined : didYouMean(found, keywords);
  return near === undefined ? '' : `Did you mean "${near}"? `;
}
