// Where the gateway token belongs (Discord's gateway, domain.md §10): the `d.token` string of an
// IDENTIFY (op 2) or RESUME (op 6) payload, and nowhere else. Any other text — a presence, a
// message, a token field in another op — keeps the placeholder (why: were every frame rewritten, a
// hostile agent could set its status to the placeholder and the gateway would show the token).

const IDENTIFY = 2;
const RESUME = 6;

// The message with d.token set to `token`, or undefined when it is not an IDENTIFY or RESUME.
// The result is the parsed message written again, so what the upstream reads is exactly what was
// judged here (a repeated "op" or "d" key no longer means one thing to us and another to it).
export function withGatewayToken(text: string, token: string): string | undefined {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return undefined;
  const { op, d } = message as { op?: unknown; d?: unknown };
  if (op !== IDENTIFY && op !== RESUME) return undefined;
  if (typeof d !== 'object' || d === null || Array.isArray(d) || typeof (d as { token?: unknown }).token !== 'string') return undefined;
  (d as { token: string }).token = token;
  return JSON.stringify(message);
}
