#!/usr/bin/env node
// Entry point: the CLI is bundled into dist/ by `npm run build` (run by `npm install`).
import { main } from '../dist/cli.js';

const code = await main(process.argv, { stdout: process.stdout, stderr: process.stderr, env: process.env });
// Every command awaits its own work, so what is still pending now is only what nobody waits for: a
// system-resolver lookup that verify gave up on (getaddrinfo cannot be cancelled and holds the
// process for the resolver's own timeouts, 5 s and more), a probe socket's timer. Exit once the
// output is flushed (pipes can be asynchronous on macOS) instead of waiting for them (issue 9).
let pending = 2;
const flushed = () => {
  if (--pending === 0) process.exit(code);
};
process.exitCode = code;
for (const stream of [process.stdout, process.stderr]) stream.write('', flushed);
