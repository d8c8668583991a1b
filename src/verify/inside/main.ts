// The probe that runs inside the VM. The host sends this bundle (dist/probe.cjs) over stdin to the
// VM's own `node -`, preceded by `globalThis.__NANOPOLICY_INPUT = {...};`. It prints one JSON
// InsideReport on stdout and progress lines (JSON) on stderr. Node built-ins only.

import type { InsideInput } from './result.ts';
import { runProbes } from './run-probes.ts';

declare global {
  var __NANOPOLICY_INPUT: InsideInput | undefined;
}

// Reads the input the host prepended, runs the probes, writes the report.
async function probeMain(): Promise<void> {
  const input = globalThis.__NANOPOLICY_INPUT;
  if (!input?.manifest) {
    process.stderr.write('nanopolicy probe: no input (globalThis.__NANOPOLICY_INPUT is not set)\n');
    process.exitCode = 70;
    return;
  }
  let last = 0;
  const report = await runProbes(input, (done, total) => {
    const now = Date.now();
    if (now - last < 100 && done !== total) return;
    last = now;
    process.stderr.write(`${JSON.stringify({ progress: { done, total } })}\n`);
  });
  // Exit once the report is out, whatever a probe left behind (a socket's timer). The system
  // resolver is asked in a child (system-lookup.ts): process.exit() joins libuv's pool threads, so
  // a getaddrinfo of our own would hold even this exit, and the host waiting for it (issue 24).
  process.stdout.write(`${JSON.stringify(report)}\n`, () => process.stderr.write('', () => process.exit()));
}

void probeMain();
