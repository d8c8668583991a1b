// Reads an HTTP/1.x request head from the bytes a client sent so far, strictly: the proxy
// understands exactly one request, `CONNECT host:port HTTP/1.1`, and refuses anything it would
// have to guess about (bare LF, folded headers, control bytes, a head past the size cap).

export type HeadRead =
  | { status: 'incomplete' }
  | { status: 'refused'; reason: string; method?: string; target?: string }
  | { status: 'connect'; target: string; headers: ReadonlyArray<[string, string]>; rest: Buffer };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// `bytes` is everything received; `rest` is what followed the head (a client that sent its
// ClientHello without waiting for "200"). Never throws.
export function readRequestHead(bytes: Buffer, maxBytes: number): HeadRead {
  const end = bytes.indexOf('\r\n\r\n', 0, 'latin1');
  if (end < 0 || end + 4 > maxBytes) {
    if (bytes.length >= maxBytes || end >= 0) return { status: 'refused', reason: `request head larger than ${maxBytes} bytes` };
    // A head that cannot be valid is refused now rather than after the timeout.
    const early = earlyProblem(bytes);
    return early ? { status: 'refused', reason: early } : { status: 'incomplete' };
  }
  const text = bytes.subarray(0, end).toString('latin1');
  if (/[^\t\r\n\x20-\x7e]/.test(text)) return { status: 'refused', reason: 'request head holds control or non-ASCII bytes' };
  const lines = text.split('\r\n');
  if (lines.some((l) => l.includes('\r') || l.includes('\n'))) return { status: 'refused', reason: 'request head has a bare CR or LF' };
  const [requestLine = '', ...headerLines] = lines;
  const parts = requestLine.split(' ');
  if (parts.length !== 3) return { status: 'refused', reason: 'malformed request line' };
  const [method = '', target = '', version = ''] = parts;
  if (!TOKEN.test(method)) return { status: 'refused', reason: 'malformed request line' };
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return { status: 'refused', reason: 'not an HTTP/1.x request', method, target };
  if (method !== 'CONNECT') return { status: 'refused', reason: `only CONNECT is allowed, not ${method}`, method, target };
  const headers: Array<[string, string]> = [];
  for (const line of headerLines) {
    if (line.startsWith(' ') || line.startsWith('\t')) return { status: 'refused', reason: 'folded header line', method, target };
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon);
    if (!TOKEN.test(name)) return { status: 'refused', reason: 'malformed header line', method, target };
    headers.push([name.toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return { status: 'connect', target, headers, rest: bytes.subarray(end + 4) };
}

// A reason to refuse a head before it is complete: its first bytes cannot start a request
// (TLS sent straight at the proxy, binary junk, a bare LF), so there is no point waiting.
function earlyProblem(bytes: Buffer): string | undefined {
  const text = bytes.toString('latin1');
  if (/[^\t\r\n\x20-\x7e]/.test(text)) return 'request head holds control or non-ASCII bytes';
  if (/(^|[^\r])\n/.test(text)) return 'request head has a bare CR or LF';
  return undefined;
}
