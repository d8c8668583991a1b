// The firewall-log collector process: `node dist/firewall-log.js --source nflog:N|pflog0
// --subnet CIDR --out FILE [--anchor NAME] [--sudo]`. Prints "collecting SOURCE" on stdout once
// tcpdump listens (enforce waits for that line), exits non-zero with one line when it cannot, and
// writes its counts and stops tcpdump on SIGTERM or SIGINT.

import { startCollector } from './firewall-collector.ts';
import { MACOS_TCPDUMP, tcpdumpArgs } from '../host/tcpdump-command.ts';

/** How often counts are written: a refused attempt shows in `nanopolicy log` within this. */
const FLUSH_MS = 2000;
const ROTATE_BYTES = 10 * 1024 * 1024;

// The value after `--name`, or undefined.
function option(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

// Runs until a signal or tcpdump's end.
async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const source = option(argv, '--source');
  const subnet = option(argv, '--subnet');
  const out = option(argv, '--out');
  const anchor = option(argv, '--anchor');
  if (!source || !subnet || !out || !/^(nflog:\d{1,5}|pflog\d+)$/.test(source)) {
    throw new Error('usage: node dist/firewall-log.js --source nflog:N|pflog0 --subnet CIDR --out FILE [--anchor NAME] [--sudo]');
  }
  // Through sudo on macOS by its absolute path, the one the sudoers line names.
  const sudo = argv.includes('--sudo');
  const tcpdump = [sudo && process.platform === 'darwin' ? MACOS_TCPDUMP : 'tcpdump', ...tcpdumpArgs(source)];
  const collector = startCollector({
    argv: sudo ? ['sudo', '-n', ...tcpdump] : tcpdump,
    ...(anchor ? { anchor } : {}),
    subnet, out, rotateBytes: ROTATE_BYTES, flushMs: FLUSH_MS,
    log: (line) => process.stderr.write(`nanopolicy-firewall-log: ${line}\n`),
  });
  await collector.ready;
  process.stdout.write(`collecting ${source}\n`);
  let stopping = false;
  const stop = (): void => {
    stopping = true;
    void collector.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const code = await collector.exited;
  if (stopping) return;
  await collector.close();
  throw new Error(`tcpdump ended (exit ${code})`);
}

main().catch((error: Error) => {
  process.stderr.write(`nanopolicy-firewall-log: ${error.message}\n`);
  process.exit(1);
});
