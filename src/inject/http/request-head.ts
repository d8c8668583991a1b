// One request head from the VM, judged for the tunnel it came through: the shape every injected
// request must have, so the header the proxy adds lands on a request the proxy framed itself.

import { headerValues, parseHeaderLines, printable, type HeaderList } from './header-lines.ts';
import { refusal, type Refusal } from './refusal.ts';

export interface RequestHead {
  method: string;
  /** Origin-form ("/v1/messages?x=1"), or "*" for OPTIONS. */
  target: string;
  version: '1.0' | '1.1';
  /** As the client sent them, in order. */
  headers: HeaderList;
  body: { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' };
  /** A WebSocket handshake (GET with Upgrade: websocket): after it, the connection carries frames. */
  websocket: boolean;
  /** The client asked to close after this request (or spoke HTTP/1.0 without keep-alive). */
  close: boolean;
}

const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Origin-form: "/" then visible ASCII without "#" (a fragment never goes on the wire).
const ORIGIN_FORM = /^\/[\x21-\x7e]*$/;

export interface Tunnel {
  /** The name the tunnel was opened for (lowercase, from SNI / CONNECT). */
  host: string;
  port: number;
}

// Parses the head's text (latin1, without the final CRLFCRLF; already free of bare CR/LF).
export function parseRequestHead(text: string, tunnel: Tunnel): RequestHead | Refusal {
  const lines = text.split('\r\n');
  const requestLine = lines[0]!;
  const parts = requestLine.split(' ');
  if (parts.length !== 3) return refusal('bad-request-line', `the request line "${printable(requestLine)}" is not METHOD TARGET HTTP/1.1`);
  const [method, rawTarget, protocol] = parts as [string, string, string];
  if (!METHOD.test(method)) return refusal('bad-request-line', `"${printable(method)}" is not a method`);
  if (protocol !== 'HTTP/1.1' && protocol !== 'HTTP/1.0') return refusal('bad-request-line', `"${printable(protocol)}" is not HTTP/1.1`);
  const version = protocol === 'HTTP/1.1' ? '1.1' : '1.0';
  const headers = parseHeaderLines(lines.slice(1));
  if ('type' in headers) return headers;

  const target = originTarget(method, rawTarget, tunnel);
  if (typeof target !== 'string') return target;

  const hosts = headerValues(headers, 'host');
  if (hosts.length === 0) return refusal('host-missing', 'the request names no Host');
  if (hosts.length > 1) return refusal('host-mismatch', 'the request names two Hosts');
  if (!sameAuthority(hosts[0]!, tunnel)) return refusal('host-mismatch', `the Host "${printable(hosts[0]!)}" is not the tunnel's name "${tunnel.host}"`);

  const lengths = headerValues(headers, 'content-length');
  const encodings = headerValues(headers, 'transfer-encoding');
  // Why refused and not resolved by the RFC's precedence: a server behind us that resolves it
  // otherwise would read a second request, one the proxy never framed, out of this one's body.
  if (lengths.length > 0 && encodings.length > 0) return refusal('cl-and-te', 'the request has both Content-Length and Transfer-Encoding');
  if (lengths.length > 1) return refusal('two-content-lengths', 'the request has two Content-Length headers');
  let body: RequestHead['body'] = { kind: 'none' };
  if (lengths.length === 1) {
    if (!/^[0-9]{1,15}$/.test(lengths[0]!)) return refusal('bad-content-length', `the Content-Length "${printable(lengths[0]!)}" is not a number`);
    body = { kind: 'length', length: Number(lengths[0]) };
  }
  if (encodings.length > 0) {
    if (encodings.length > 1 || encodings[0]!.toLowerCase() !== 'chunked' || version === '1.0') {
      return refusal('bad-transfer-encoding', `the Transfer-Encoding "${printable(encodings.join(', '))}" is not a single "chunked"`);
    }
    body = { kind: 'chunked' };
  }

  const connection = headerValues(headers, 'connection').flatMap((v) => v.split(',')).map((t) => t.trim().toLowerCase()).filter(Boolean);
  const upgrades = headerValues(headers, 'upgrade');
  let websocket = false;
  if (upgrades.length > 0 || connection.includes('upgrade')) {
    // Only a WebSocket handshake may change protocols: h2c or anything else would carry requests
    // the proxy cannot see to add (or keep out) the header.
    if (method !== 'GET' || upgrades.length !== 1 || upgrades[0]!.toLowerCase() !== 'websocket' || !connection.includes('upgrade') || body.kind !== 'none') {
      return refusal('bad-upgrade', `the upgrade to "${printable(upgrades.join(', '))}" is not a WebSocket handshake`);
    }
    websocket = true;
  }
  const close = connection.includes('close') || (version === '1.0' && !connection.includes('keep-alive'));
  return { method, target, version, headers, body, websocket, close };
}

// The target in origin-form: absolute-form is accepted only for the tunnel's own name.
function originTarget(method: string, raw: string, tunnel: Tunnel): string | Refusal {
  if (raw === '*') return method === 'OPTIONS' ? raw : refusal('bad-target', 'the target "*" is only for OPTIONS');
  if (ORIGIN_FORM.test(raw)) return raw.includes('#') ? refusal('bad-target', 'the target holds a fragment') : raw;
  const absolute = /^https?:\/\/([^/?#]*)([^#]*)$/i.exec(raw);
  if (!absolute) return refusal('bad-target', `the target "${printable(raw)}" is neither a path nor a URL`);
  const authority = absolute[1]!;
  if (authority.includes('@') || !sameAuthority(authority, tunnel)) {
    return refusal('absolute-form-other-host', `the request is for "${printable(authority)}", not the tunnel's name "${tunnel.host}"`);
  }
  const rest = absolute[2]!;
  const path = rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest;
  return ORIGIN_FORM.test(path) ? path : refusal('bad-target', 'the URL\'s path is not plain ASCII');
}

// Whether "name" or "name:port" is the tunnel's name (and port, when one is given).
function sameAuthority(authority: string, tunnel: Tunnel): boolean {
  const match = /^([^:]+)(?::([0-9]{1,5}))?$/.exec(authority);
  if (!match) return false;
  const name = match[1]!.toLowerCase().replace(/\.$/, '');
  if (name !== tunnel.host) return false;
  return match[2] === undefined || Number(match[2]) === tunnel.port;
}
