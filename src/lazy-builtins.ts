// Node built-ins that cost start-up time, loaded on first use. `check` of a small policy needs none
// of them, yet a static import loads each one (and node:net and node:crypto load the stream
// machinery behind them) before the first line runs: together a third of check's start-up over
// bare Node (issue 9). Every other built-in is imported as usual.

import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

/** node:crypto, for the policy's and the artifacts' sha256. */
export const lazyCrypto = (): typeof import('node:crypto') => load('node:crypto');
/** node:net, for its IPv6 parser. */
export const lazyNet = (): typeof import('node:net') => load('node:net');
/** node:os, for the home folder and user name. */
export const lazyOs = (): typeof import('node:os') => load('node:os');

/** sha256 of bytes or text, lowercase hex. */
export function sha256Hex(data: Uint8Array | string): string {
  return lazyCrypto().createHash('sha256').update(data).digest('hex');
}

/** os.homedir() without loading node:os where it need not: libuv answers $HOME whenever it is set. */
export function homeDir(): string {
  return process.env.HOME ?? lazyOs().homedir();
}
