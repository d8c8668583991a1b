#!/usr/bin/env node
// Entry point: the CLI is bundled into dist/ by `npm run build` (run by `npm install`).
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv, { stdout: process.stdout, stderr: process.stderr, env: process.env });
