// When this host last booted, and whether a file was written before that: what nanopolicy wrote
// before a reboot (a lock, pf reference tokens) names things the reboot ended.

import { statSync } from 'node:fs';
import { uptime } from 'node:os';

/**
 * Margin for the estimate: uptime counts whole seconds on some systems, and the clock may be
 * stepped at boot (NTP). A reboot takes far longer, so a file this close to the boot is never
 * taken for one from before it.
 */
const MARGIN_MS = 2000;

// This boot's time in ms since the epoch (libuv's uptime includes sleep on macOS and Linux).
export function bootTimeMs(): number {
  return Date.now() - uptime() * 1000;
}

// Whether the file at `path` was last written before this boot (false when it cannot be read).
export function writtenBeforeBoot(path: string, bootMs: number = bootTimeMs()): boolean {
  try {
    return statSync(path).mtimeMs < bootMs - MARGIN_MS;
  } catch {
    return false;
  }
}
