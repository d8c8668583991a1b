// Host names as bridge targets: RFC 1123 labels, so that socat, the hosts file and TLS agree.

// Why text is not a usable DNS host name, or undefined when it is.
export function invalidDnsName(name: string): string | undefined {
  if (name.length > 253) return 'it is longer than 253 characters';
  const labels = name.split('.');
  for (const label of labels) {
    if (label.length === 0) return 'it has an empty label (two dots in a row, or a dot at an end)';
    if (label.length > 63) return `the label "${label.slice(0, 20)}…" is longer than 63 characters`;
    if (!/^[a-z0-9-]+$/i.test(label)) return `the label "${label}" holds a character other than letters, digits and "-"`;
    if (label.startsWith('-') || label.endsWith('-')) return `the label "${label}" starts or ends with "-"`;
  }
  // A last label that is a number (decimal or 0x hex) makes URL parsers read the whole name as an
  // IPv4 address (WHATWG "ends in a number"), and no top-level domain is one.
  if (/^(\d+|0x[0-9a-f]*)$/i.test(labels.at(-1) ?? '')) return 'its last label is a number, so URL parsers read it as an IPv4 address';
  return undefined;
}
