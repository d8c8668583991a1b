// The tcpdump command the firewall-log collector runs, spelled out once: the sudoers line that
// lets it run without a password (macOS) must be this exact command line.

/** macOS's tcpdump: sudoers wants the absolute path. */
export const MACOS_TCPDUMP = '/usr/sbin/tcpdump';

// tcpdump's arguments for a log interface: -n no name lookups, -l line by line, -q no payload
// decoding (no name the VM chose is printed), -e the pflog header (rule, anchor, action).
export function tcpdumpArgs(source: string): string[] {
  return ['-n', '-l', '-q', ...(source.startsWith('pflog') ? ['-e'] : []), '-i', source];
}
