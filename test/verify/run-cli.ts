// Runs the nanopolicy CLI from source, for end-to-end tests that start it as a process (bundled by test/helpers/cli-process.ts).
import { main } from '../../src/cli/main.ts';

process.exitCode = await main(process.argv, { stdout: process.stdout, stderr: process.stderr, env: process.env });
