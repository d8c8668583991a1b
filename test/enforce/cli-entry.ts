// Runs the nanopolicy CLI from source (for tests that must run it inside a lab namespace).
import { main } from '../../src/cli/main.ts';

process.exitCode = await main(process.argv, { stdout: process.stdout, stderr: process.stderr, env: process.env });
