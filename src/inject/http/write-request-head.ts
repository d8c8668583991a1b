// The head the proxy sends upstream for an injected request: the client's head as parsed, with each
// listed header set to its secret (every copy the client sent removed first), `accept-encoding:
// identity` (so a reflected secret can be found in the response), no WebSocket extension offer
// (no compressed frames the rewriter could not read), and a Connection header of known tokens only.

import type { RequestHead } from './request-head.ts';

export interface HeadRewrite {
  /** Lowercase name → value with the secret filled in. */
  set: ReadonlyArray<readonly [string, string]>;
}

const KNOWN_CONNECTION = new Set(['keep-alive', 'close', 'upgrade']);

// The head's bytes, ready to send.
export function writeRequestHead(head: RequestHead, rewrite: HeadRewrite): Buffer {
  const replaced = new Set(rewrite.set.map(([name]) => name));
  let out = `${head.method} ${head.target} HTTP/${head.version}\r\n`;
  for (const [name, value] of head.headers) {
    const lower = name.toLowerCase();
    if (replaced.has(lower) || lower === 'accept-encoding' || lower === 'sec-websocket-extensions') continue;
    if (lower === 'connection') {
      // Why: a token naming another header ("Connection: x-api-key") asks the next hop to drop it.
      const tokens = value.split(',').map((t) => t.trim()).filter((t) => KNOWN_CONNECTION.has(t.toLowerCase()));
      if (tokens.length > 0) out += `${name}: ${tokens.join(', ')}\r\n`;
      continue;
    }
    out += `${name}: ${value}\r\n`;
  }
  out += 'accept-encoding: identity\r\n';
  for (const [name, value] of rewrite.set) out += `${name}: ${value}\r\n`;
  return Buffer.from(`${out}\r\n`, 'latin1');
}
