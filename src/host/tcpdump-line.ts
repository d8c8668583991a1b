// One line of `tcpdump -n -l -q` on a firewall's log interface, read into the packet it shows:
// Linux's nflog:GROUP (nft `log group`) and macOS's pflog0 (pf's `log`, with -e for the rule and
// anchor). The packets come from the VM, which is hostile: only addresses and ports are taken,
// -q keeps tcpdump from decoding payloads (no DNS names the VM chose reach this parser), and a
// line that does not have the expected shape is ignored rather than guessed at.

import { isIP } from 'node:net';

export interface LoggedPacket {
  src: string;
  dst: string;
  /** The destination port, for TCP and UDP. */
  port?: number;
  proto: 'tcp' | 'udp' | 'icmp' | 'icmp6' | 'other';
}

export interface TcpdumpLineOptions {
  /** pflog: keep only packets logged by a rule of this anchor ("com.apple/100.nanopolicy.vm"). */
  anchor?: string;
}

// The packet a line shows, or undefined for anything else (tcpdump's own messages, other anchors).
export function parseTcpdumpLine(line: string, options: TcpdumpLineOptions = {}): LoggedPacket | undefined {
  let rest = line.trim();
  if (options.anchor !== undefined) {
    // pflog with -e: "rule 5.com.apple/100.nanopolicy.vm.0/0(match): block in on bridge100: …"
    // (tcpdump print-pflog.c prints "rule %u.%s.%u/" with the ruleset when it is an anchor's).
    const m = /(?:^|\s)rule (\d+)\.(\S+)\.(\d+)\/\d+\(\w+\): (block|pass|match|scrub|nat|rdr|binat)\S* (in|out) on \S+: (.*)$/.exec(rest);
    if (!m || m[2] !== options.anchor || m[4] !== 'block' || m[5] !== 'in') return undefined;
    rest = m[6]!;
  } else {
    // nflog: "1796665833.137829 IP 192.168.64.2.52826 > 203.0.113.10.443: tcp 0"
    const m = /(?:^|\s)IP6? (.*)$/.exec(rest);
    if (!m) return undefined;
    rest = m[1]!;
  }
  // pflog's -e output may still carry "IP " or "IP6 " before the addresses (tcpdump versions differ).
  rest = rest.replace(/^IP6? /, '');
  const m = /^(\S+) > (\S+): (.*)$/.exec(rest);
  if (!m) return undefined;
  const what = m[3]!;
  const proto: LoggedPacket['proto'] = /^tcp\b/.test(what) ? 'tcp' : /^UDP\b/.test(what) ? 'udp' : /^ICMP6\b/.test(what) ? 'icmp6' : /^ICMP\b/.test(what) ? 'icmp' : 'other';
  const withPorts = proto === 'tcp' || proto === 'udp';
  const src = endpoint(m[1]!, withPorts);
  const dst = endpoint(m[2]!.replace(/:$/, ''), withPorts);
  if (!src || !dst) return undefined;
  return { src: src.address, dst: dst.address, ...(dst.port !== undefined ? { port: dst.port } : {}), proto };
}

// "192.168.64.2.52826" / "2001:db8::2.443" (tcpdump writes the port after the last dot), or a
// bare address when the protocol has no ports.
function endpoint(text: string, withPort: boolean): { address: string; port?: number } | undefined {
  if (!withPort) return isIP(text) ? { address: text } : undefined;
  const dot = text.lastIndexOf('.');
  if (dot < 0) return undefined;
  const address = text.slice(0, dot);
  const portText = text.slice(dot + 1);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535 || !isIP(address)) return undefined;
  return { address, port: Number(portText) };
}
