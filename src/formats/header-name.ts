// Which header names a policy may inject: an HTTP token (RFC 9110 §5.6.2), and none the proxy
// frames the request with itself.

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// Headers that say how the message is framed or routed, or that a hop consumes: setting any of them
// to a secret would change what the request is (why: the proxy frames every injected request
// itself, and a header like these is how smuggling starts).
export const FRAMING_HEADERS: ReadonlySet<string> = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer',
  'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'expect', 'content-encoding',
  'accept-encoding', 'sec-websocket-key', 'sec-websocket-extensions', 'sec-websocket-protocol', 'sec-websocket-version',
]);

// Whether `name` is a valid header name.
export function isHeaderName(name: string): boolean {
  return TOKEN.test(name);
}
