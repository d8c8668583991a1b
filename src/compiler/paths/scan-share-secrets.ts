// Looks inside every share for files and folders that look secret (the sensitive list: .env,
// id_rsa, credentials …): the compiler's own checks judge a mount's path, but a ".env" one level
// below a shared folder reaches the VM all the same. Reads the disk, so it runs only where a
// command asks (check, compile, enforce, init); bounded in depth, entries and time, and says so
// when a bound cut a share's scan short — a scan that did not finish is not a clean share.

import { lstatSync, readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { Span } from '../../grammar/ast.ts';
import { warningAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { sensitiveSegment } from './sensitive-patterns.ts';

export interface ShareToScan {
  name: string;
  /** Absolute host path. */
  path: string;
  mode: 'ro' | 'rw';
  /** Where the warning points: the mount's path on its line. */
  span: Span;
}

export interface ShareScanLimits {
  /** Folder levels below the share that are listed (1: the share's own entries only). */
  maxDepth: number;
  /** Entries looked at, over all shares together. */
  maxEntries: number;
  /** Milliseconds for all shares together. */
  budgetMs: number;
  /** Shares searched at most; the rest are one warning (a real policy has a handful). */
  maxShares: number;
  /** Tests only: the clock. */
  now?: () => number;
}

// Deep enough for NanoClaw's groups/<chat>/… and data/sessions/<id>/…; small enough that a share
// holding a whole project tree costs `check` a fraction of a second, not a walk of the disk.
// A policy of thousands of shares (the benchmarks' 10,000) is searched no further than 500 of them,
// so `check` stays the policy's size in time, not its shares' contents.
export const SHARE_SCAN_LIMITS: ShareScanLimits = { maxDepth: 6, maxEntries: 20_000, budgetMs: 1500, maxShares: 500 };

/** How many findings one warning lists by name. */
const SHOWN = 5;

// One warning per share that holds something secret-looking (NP252), one for the share whose
// search a bound cut short, and one for all the shares after it, never reached (NP253). Links are never followed: the VM sees the link, not the host's target.
export function scanShareSecrets(file: string, shares: readonly ShareToScan[], limits: ShareScanLimits = SHARE_SCAN_LIMITS): Diagnostic[] {
  const now = limits.now ?? Date.now;
  const deadline = now() + limits.budgetMs;
  // A cut for the entries or the time ends the search of every share after it, too.
  const budget = { entries: 0, cut: undefined as string | undefined };
  const out: Diagnostic[] = [];
  for (let index = 0; index < shares.length; index++) {
    const share = shares[index]!;
    const found: string[] = [];
    if (budget.cut === undefined && index >= limits.maxShares) budget.cut = `after ${limits.maxShares} shares`;
    if (budget.cut === undefined && now() > deadline) budget.cut = `after ${limits.budgetMs} ms`;
    if (budget.cut !== undefined) {
      // One warning for all the shares the search never reached, not one each (a policy of
      // thousands of shares would drown in them).
      const rest = shares.length - index;
      out.push(
        warningAt(file, share.span, {
          code: 'NP253',
          message: `${rest === 1 ? `The share "${share.name}" was` : `The ${rest} shares from "${share.name}" on were`} not searched for secret-looking files: the search stopped ${budget.cut}.`,
          hint: 'Share fewer or smaller folders, or look inside them yourself: what was not searched may hold secrets.',
        }),
      );
      break;
    }
    const state = { cutHere: undefined as string | undefined };
    const visit = (dir: string, rel: string, depth: number): void => {
      if (state.cutHere !== undefined) return;
      // A missing or unreadable share is enforce's preflight's to report, not a secret. Asked
      // without an exception first: a thrown ENOENT costs ~50 µs, and a big policy's shares may
      // not exist on the machine that checks it (issue 9).
      if (depth === 0 && statSync(dir, { throwIfNoEntry: false })?.isDirectory() !== true) return;
      let names: string[];
      try {
        names = readdirSync(dir).sort();
      } catch {
        return;
      }
      for (const name of names) {
        if (++budget.entries > limits.maxEntries) {
          state.cutHere = budget.cut = `after ${limits.maxEntries} entries`;
          return;
        }
        // The clock is read every 64 entries: a syscall's worth of work each, not one per entry.
        if ((budget.entries & 63) === 0 && now() > deadline) {
          state.cutHere = budget.cut = `after ${limits.budgetMs} ms`;
          return;
        }
        const relative = rel === '' ? name : `${rel}/${name}`;
        let st: Stats;
        try {
          st = lstatSync(join(dir, name));
        } catch {
          continue;
        }
        if (sensitiveSegment(name) !== undefined) {
          found.push(st.isDirectory() ? `${relative}/` : relative);
          continue;
        }
        if (!st.isDirectory()) continue;
        if (depth + 1 >= limits.maxDepth) {
          if (!isEmptyFolder(join(dir, name))) state.cutHere ??= `${limits.maxDepth} levels down, at "${relative}"`;
          continue;
        }
        visit(join(dir, name), relative, depth + 1);
      }
    };
    visit(share.path, '', 0);
    if (found.length > 0) {
      const first = sensitiveSegment(found[0]!.replace(/\/$/, ''))!;
      const more = found.length > 1 ? ` and ${found.length - 1} more` : '';
      out.push(
        warningAt(file, share.span, {
          code: 'NP252',
          message: `The share "${share.name}" holds "${found[0]}"${more}, which looks secret (pattern "${first.pattern}"): the VM can ${share.mode === 'rw' ? 'read and change' : 'read'} it.`,
          hint: 'Move secrets out of shared folders; the VM gets them through the Vaultwarden bridge, not a share.',
          notes: found.slice(0, SHOWN).map((f) => `${share.path}/${f}`).concat(found.length > SHOWN ? [`… ${found.length - SHOWN} more`] : []),
        }),
      );
    }
    if (state.cutHere !== undefined) {
      out.push(
        warningAt(file, share.span, {
          code: 'NP253',
          message: `The share "${share.name}" was not searched whole for secret-looking files: the search stopped ${state.cutHere}.`,
          hint: 'Share a smaller folder, or look inside it yourself: what was not searched may hold secrets.',
        }),
      );
    }
  }
  return out;
}

function isEmptyFolder(path: string): boolean {
  try {
    return readdirSync(path).length === 0;
  } catch {
    return true;
  }
}
