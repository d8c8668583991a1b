// Every spelling the C library reads as an IPv4 address, so that none of them passes as a host
// name. inet_aton (glibc, BSD libc, and so getaddrinfo and socat) takes one to four parts, each
// decimal, octal (leading 0) or hex (0x): "0x7f000001", "0177.0.0.1", "127.1" and "2130706433" are
// all 127.0.0.1. The WHATWG URL parser also drops one trailing dot ("127.0.0.1.").

// The 32-bit address a text means to inet_aton, or undefined when it is no address spelling.
export function inetAton(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length > 4) return undefined;
  const values: number[] = [];
  for (const part of parts) {
    const value = atonPart(part);
    if (value === undefined) return undefined;
    values.push(value);
  }
  // The last part fills all the bytes the earlier ones leave: "127.1" is 127.0.0.1.
  const last = values.pop()!;
  if (values.some((v) => v > 255)) return undefined;
  const lastBytes = 4 - values.length;
  if (last >= 2 ** (8 * lastBytes)) return undefined;
  return values.reduce((acc, v, i) => acc + v * 2 ** (8 * (3 - i)), 0) + last;
}

// True when the text, or the text without one trailing dot, is an address spelling.
export function isIpv4Spelling(text: string): boolean {
  return inetAton(text) !== undefined || (text.endsWith('.') && inetAton(text.slice(0, -1)) !== undefined);
}

// One part: "0x1F" hex (at least one digit, as the C library wants), "017" octal, "15" decimal.
function atonPart(part: string): number | undefined {
  let digits: string;
  let radix: number;
  if (/^0x[0-9a-f]+$/i.test(part)) {
    digits = part.slice(2);
    radix = 16;
  } else if (/^0[0-7]*$/.test(part)) {
    digits = part;
    radix = 8;
  } else if (/^[1-9][0-9]*$/.test(part)) {
    digits = part;
    radix = 10;
  } else {
    return undefined;
  }
  // Anything past 32 bits is refused by inet_aton; stop before the number loses precision.
  const stripped = digits.replace(/^0+(?=.)/, '');
  if (stripped.length > 11) return undefined;
  const value = parseInt(stripped, radix);
  return value <= 0xffffffff ? value : undefined;
}
