// What to type to install a program nanopolicy runs, so that a missing one is one line with its
// fix instead of a spawn error ("spawn tart ENOENT") split over two.

const INSTALL: Readonly<Record<string, string>> = {
  tart: 'brew install cirruslabs/cli/tart',
  softnet: 'brew install cirruslabs/cli/softnet',
  socat: 'brew install socat (macOS) or apt-get install socat (Linux)',
  nft: 'apt-get install nftables',
  ip: 'apt-get install iproute2',
  ss: 'apt-get install iproute2',
  nmap: 'brew install nmap (macOS) or apt-get install nmap (Linux)',
  node: 'brew install node (macOS) or apt-get install nodejs (Linux)',
};

/** Programs macOS ships: missing means the wrong machine or a broken PATH, not an install. */
const PART_OF_MACOS = new Set(['pfctl', 'ifconfig', 'launchctl', 'sudo', 'lsof', 'security', 'netstat', 'visudo']);

// The install command for `program` (a bare name or a path), or a sentence saying where it comes from.
export function installHint(program: string): string {
  const name = program.split('/').pop() ?? program;
  if (INSTALL[name] !== undefined) return INSTALL[name];
  if (PART_OF_MACOS.has(name)) return `${name} is part of macOS: run nanopolicy on the Mac, with /usr/sbin and /sbin on PATH`;
  return `install ${name} and put it on PATH`;
}

// One line: what is missing and how to get it.
export function missingProgram(program: string): string {
  const name = program.split('/').pop() ?? program;
  const hint = installHint(program);
  return `"${name}" is not installed (not found on PATH); ${hint.startsWith(`${name} is`) || hint.startsWith('install ') ? hint : `install it with: ${hint}`}.`;
}
