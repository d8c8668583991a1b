// `npm run soak [-- --minutes N] [--short] [--json]`: the soak with faults (issue 24) in the
// namespace lab, as root. Prints the table (or the result as JSON) and exits 0 when every check
// passed, 1 when one failed, 2 when it cannot run here. Bounded: it stops by itself after N minutes
// (default 10) plus teardown, and the lab is torn down on any exit, Ctrl-C included.

import { labAvailable } from '../lab/index.ts';
import { runSoak, soakOptions } from './run-soak.ts';
import { formatSoak } from './soak-report.ts';

const args = process.argv.slice(2);
const json = args.includes('--json');
const short = args.includes('--short');
const at = args.indexOf('--minutes');
const minutes = at >= 0 ? Number(args[at + 1]) : 10;
const unknown = args.filter((a, i) => !['--json', '--short', '--minutes'].includes(a) && args[i - 1] !== '--minutes');
if (unknown.length || !(minutes > 0 && minutes <= 24 * 60)) {
  process.stderr.write('usage: npm run soak -- [--minutes N (0 < N ≤ 1440, default 10)] [--short] [--json]\n');
  process.exit(64);
}
const missing = labAvailable();
if (missing.length) {
  process.stderr.write(`soak: the lab cannot run here: ${missing.join('; ')}\n`);
  process.exit(2);
}
const log = (line: string) => process.stderr.write(`soak: ${line}\n`);
const result = await runSoak(soakOptions(short ? 'short' : { minutes }, log));
process.stdout.write(json ? `${JSON.stringify(result)}\n` : formatSoak(result));
process.exitCode = result.checks.every((c) => c.ok) ? 0 : 1;
