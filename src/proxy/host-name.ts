// Host names as the proxy accepts them: DNS names only. Any spelling an address parser could
// read as an IP (dotted, hex, octal, short forms like "127.1", one big number, brackets, colons)
// is refused, because a name rule must never be satisfied by an address in disguise.

// Lowercases and drops one trailing dot ("Example.COM." and "example.com" are the same name).
export function normaliseName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

// Whether text is, or could be read by inet_aton / WHATWG URL / getaddrinfo as, an IP address.
// WHATWG's "ends in a number" rule: if the last label is decimal or 0x-hex, the host is parsed as
// IPv4 ("0x7f.1", "2130706433", "0177.0.0.1" all mean 127.0.0.1); anything with ":" or "[" is IPv6.
export function looksLikeIpLiteral(text: string): boolean {
  if (text.includes(':') || text.includes('[') || text.includes(']')) return true;
  const labels = text.split('.');
  if (labels.length > 1 && labels.at(-1) === '') labels.pop();
  const last = labels.at(-1) ?? '';
  return /^(\d+|0x[0-9a-f]*)$/i.test(last);
}

// Why a normalised name is not a DNS host name the proxy will look up, or undefined when it is one.
export function invalidHostName(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (looksLikeIpLiteral(name)) return 'it is an IP address, not a name';
  if (name.length > 253) return 'it is longer than 253 characters';
  const labels = name.split('.');
  // A single label ("localhost", "intranet") is a local name, never an internet service.
  if (labels.length < 2) return 'it has a single label; write a full name such as "api.example.com"';
  for (const label of labels) {
    if (label.length === 0) return 'it has an empty label (two dots in a row, or a dot at an end)';
    if (label.length > 63) return `a label is longer than 63 characters`;
    if (!/^[a-z0-9-]+$/.test(label)) return `the label "${printable(label)}" holds a character other than letters, digits and "-"`;
    if (label.startsWith('-') || label.endsWith('-')) return `the label "${label}" starts or ends with "-"`;
  }
  return undefined;
}

// A short, printable rendering of untrusted text for reasons and logs.
export function printable(text: string, max = 80): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
