// An egress host as written ("api.example.com", "*.example.com:8443") split into name, wildcard
// and port, or why it is none. Names are judged by the proxy's own validator (src/net/host-name.ts),
// so whatever compiles, the proxy accepts.

import type { PolicyAst } from '../../grammar/ast.ts';
import { egressRules } from '../check-context.ts';
import { invalidHostName, looksLikeIpLiteral, normaliseName } from '../../net/host-name.ts';

export const DEFAULT_EGRESS_PORT = 443;

export interface EgressHostParts {
  /** Lowercase, without a trailing dot; "*.suffix" for a wildcard. */
  host: string;
  wildcard: boolean;
  port: number;
}

export type ParsedEgressHost =
  | ({ ok: true } & EgressHostParts)
  | {
      ok: false;
      code: string;
      message: string;
      hint: string;
      /** Where in the written text the problem starts (0-based) and how long it is. */
      offset: number;
      length: number;
    };

// Splits and judges one written egress host. Nothing is built for a host that passes but the
// answer, and its name is the written text itself when normaliseName has nothing to change (a
// compile judges every host of every egress line, issue 9).
export function parseEgressHost(text: string): ParsedEgressHost {
  const colon = text.indexOf(':');
  // Brackets, or more than one ":", can only be IPv6 in some spelling.
  if (text.includes('[') || text.includes(']') || (colon >= 0 && text.includes(':', colon + 1))) return ipLiteral(text, text.length);
  const hostText = colon < 0 ? text : text.slice(0, colon);
  let port = DEFAULT_EGRESS_PORT;
  if (colon >= 0) {
    const portText = text.slice(colon + 1);
    const at = { offset: colon + 1, length: Math.max(1, portText.length) };
    if (!DIGITS.test(portText)) {
      return { ok: false, code: 'NP264', message: `"${portText}" after "${hostText}:" is not a port number.`, hint: 'Write HOST or HOST:PORT with a port from 1 to 65535, as in "registry.npmjs.org" or "git.example.org:8443".', ...at };
    }
    port = Number(portText);
    if (port < 1 || port > 65535) {
      return { ok: false, code: 'NP220', message: `The port ${portText} is out of range; ports run from 1 to 65535.`, hint: 'Leave the port out for HTTPS (443), or write the port the service really listens on.', ...at };
    }
  }
  const lower = normaliseName(hostText);
  const wildcard = lower.startsWith('*.');
  const bare = wildcard ? lower.slice(2) : lower;
  const length = Math.max(1, hostText.length);
  if (looksLikeIpLiteral(bare) || bare.includes('%')) return ipLiteral(hostText, length);
  if (bare === 'localhost' || bare.endsWith('.localhost')) {
    return { ok: false, code: 'NP261', message: `"${hostText}" names the host itself.`, hint: 'Egress is for services on the internet; the proxy refuses the host and its LAN whatever a name resolves to.', offset: 0, length };
  }
  if (bare.includes('*')) {
    return {
      ok: false,
      code: 'NP262',
      message: `"${hostText}" has a "*" other than a leading "*.".`,
      hint: 'A wildcard is written "*.suffix" and matches names strictly below suffix, as in "*.githubusercontent.com".',
      offset: 0,
      length,
    };
  }
  // "*.com" is one label after the "*.": check-egress-hosts names it for what it is, a public suffix.
  const wildcardOnTld = wildcard && ONE_LABEL.test(bare) && !bare.startsWith('-') && !bare.endsWith('-');
  const problem = wildcardOnTld ? undefined : invalidHostName(bare);
  if (problem) {
    return { ok: false, code: 'NP262', message: `"${hostText}" is not a valid host name: ${problem}.`, hint: 'Write a DNS name of letters, digits, "-" and dots, as in "api.anthropic.com".', offset: 0, length };
  }
  return { ok: true, host: lower, wildcard, port };
}

const DIGITS = /^\d+$/;
const ONE_LABEL = /^[a-z0-9-]+$/;

// An IP literal where a name belongs: the first `length` characters are shown as the culprit.
function ipLiteral(shown: string, length: number): ParsedEgressHost {
  return {
    ok: false,
    code: 'NP261',
    message: `"${shown}" is an IP address; egress is by name only.`,
    hint: 'The proxy allows names, checked against the TLS server name; reach a fixed address through a bridge ("allow NAME A.B.C.D:PORT via PORT") instead.',
    offset: 0,
    length,
  };
}

// Two passes judge every host (one for its problems, one for repeats): each egress line's hosts are
// parsed once per tree, aligned with egressRules(ast) and each rule's hosts.
const parsedOf = new WeakMap<PolicyAst, ReadonlyArray<readonly ParsedEgressHost[]>>();

export function parsedEgressHosts(ast: PolicyAst): ReadonlyArray<readonly ParsedEgressHost[]> {
  let parsed = parsedOf.get(ast);
  if (parsed === undefined) parsedOf.set(ast, (parsed = egressRules(ast).map((rule) => rule.hosts.map((host) => parseEgressHost(host.value)))));
  return parsed;
}

// The text a host is listed under, for duplicates and messages: "host:port".
export function egressKey(parts: EgressHostParts): string {
  return `${parts.host}:${parts.port}`;
}
