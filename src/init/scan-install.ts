// Reads a NanoClaw install (domain.md §5) without changing it and without following a link out of
// it: its top-level folders, the socat bridges its scripts start, the keys of its .env, and the
// sensitive or suspicious things a share would expose. Every read is bounded (size, depth, count).

import { closeSync, lstatSync, openSync, readSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { join, relative } from 'node:path';
import { isWithin } from '../compiler/paths/expand-home.ts';
import { findSocatBridges, type FoundBridge, type UnusableSocat } from './find-socat-bridges.ts';
import { readEnvKeys } from './read-env-keys.ts';
import { visible } from './visible-text.ts';

/** A script larger than this is not a bridge script: skipped with a warning, never read whole. */
export const MAX_SCRIPT_BYTES = 1 << 20;
const MAX_SCRIPTS = 500;
const MAX_WALK_ENTRIES = 5000;
const MAX_DEPTH = 4;

export const DATA_FOLDERS = ['groups', 'data', 'memory'] as const;
export const SCRIPTS_FOLDER = 'scripts';
/** Top-level folders that are code or tooling, not the assistant's data: listed, never suggested. */
const NEVER_SUGGESTED = new Set(['.git', 'node_modules']);

export interface FolderFinding {
  /** The folder's name in the install, as found. */
  name: string;
  /** Absolute path in the install. */
  path: string;
  kind: 'data' | 'scripts' | 'other';
  /** Set when the entry is a symbolic link: where it really leads (undefined target: broken). */
  link?: { target?: string; outside: boolean };
}

export interface InstallFindings {
  root: string;
  folders: FolderFinding[];
  bridges: FoundBridge[];
  unusable: UnusableSocat[];
  /** Keys of .env, sorted; undefined when there is no .env. */
  envKeys?: string[];
  envUnreadable?: string;
  /** Every sensitive or suspicious thing found, one sentence each (already made visible). */
  warnings: string[];
  scriptsRead: number;
}

export type ReadBounded = (path: string, max: number) => { text: string; truncated: boolean };

// Scans the install at `root` (absolute). Throws only when `root` itself is not a readable folder.
// `read` is how a file's bytes are read (tests make one fail: root reads even a mode-000 file).
export function scanInstall(root: string, read: ReadBounded = readBounded): InstallFindings {
  const info = statSync(root);
  if (!info.isDirectory()) throw new Error(`"${root}" is not a folder`);
  const warnings: string[] = [];
  const show = (path: string) => visible(relative(root, path) || '.');
  const found: InstallFindings = { root, folders: [], bridges: [], unusable: [], warnings, scriptsRead: 0 };

  const entries = readdirSync(root).sort();
  for (const name of entries) {
    const path = join(root, name);
    const st = lstatSync(path);
    const kind: FolderFinding['kind'] = (DATA_FOLDERS as readonly string[]).includes(name) ? 'data' : name === SCRIPTS_FOLDER ? 'scripts' : 'other';
    if (st.isSymbolicLink()) {
      const target = realOrUndefined(path);
      const outside = target === undefined || !isWithin(target, realOrUndefined(root) ?? root);
      const isDir = target !== undefined && statOrUndefined(target)?.isDirectory() === true;
      if (kind !== 'other' || isDir) {
        found.folders.push({ name, path, kind, link: { ...(target !== undefined ? { target } : {}), outside } });
        warnings.push(
          target === undefined
            ? `${show(path)} is a broken symbolic link: it is not shared.`
            : `${show(path)} is a symbolic link to ${visible(target)}${outside ? ', outside the install' : ''}: tart would share the target, so init leaves it as a comment.`,
        );
      }
      continue;
    }
    if (st.isDirectory()) {
      if (!NEVER_SUGGESTED.has(name)) found.folders.push({ name, path, kind });
      continue;
    }
    if (st.isFile() && name === '.env') {
      try {
        found.envKeys = readEnvKeys(read(path, MAX_SCRIPT_BYTES).text);
      } catch (error) {
        found.envUnreadable = codeOf(error);
        warnings.push(`.env could not be read (${found.envUnreadable}): check by hand which keys it holds and move them into Vaultwarden.`);
      }
      continue;
    }
    if (st.isFile() && /^\.env[._-]/.test(name)) {
      warnings.push(`${show(path)} holds secrets too: move them into Vaultwarden; it is never shared.`);
      continue;
    }
    if (st.isFile() && /\.(sh|bash|zsh)$/.test(name)) readScript(found, path, show, read);
  }

  const scripts = found.folders.find((f) => f.kind === 'scripts' && f.link === undefined);
  if (scripts) walk(scripts.path, root, 0, { n: 0 }, (path, st) => {
    if (st.isFile()) readScript(found, path, show, read);
  }, warnings, show);

  // What the shares would show the VM: links out of the install. Secret-looking files in every
  // share (these and the allowlist's) are the compiler's share scan's, warned at the policy line.
  for (const folder of found.folders) {
    if (folder.kind === 'other' || folder.link !== undefined) continue;
    walk(folder.path, root, 0, { n: 0 }, () => {}, warnings, show);
  }
  return found;
}

function readScript(found: InstallFindings, path: string, show: (p: string) => string, read: ReadBounded): void {
  if (found.scriptsRead >= MAX_SCRIPTS) return;
  let text: string;
  try {
    const r = read(path, MAX_SCRIPT_BYTES);
    if (r.truncated) {
      found.warnings.push(`${show(path)} is larger than ${MAX_SCRIPT_BYTES} bytes: not read as a script; look for socat lines in it by hand.`);
      return;
    }
    text = r.text;
  } catch (error) {
    found.warnings.push(`${show(path)} could not be read (${codeOf(error)}): any bridge it starts is missing from the policy.`);
    return;
  }
  if (text.includes('\u0000')) return;
  found.scriptsRead++;
  const result = findSocatBridges(relative(found.root, path), text);
  found.bridges.push(...result.bridges);
  found.unusable.push(...result.unusable);
  if (result.unterminatedQuoteLine !== undefined) {
    found.warnings.push(`${show(path)}:${result.unterminatedQuoteLine}: a quote is never closed; the rest of the script was not read (sh would refuse it too).`);
  }
}

// Visits entries below `dir` (lstat: links are reported, never followed), bounded in depth and count.
function walk(dir: string, root: string, depth: number, seen: { n: number }, visit: (path: string, st: Stats) => void, warnings: string[], show: (p: string) => string): void {
  if (depth >= MAX_DEPTH) return;
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (error) {
    warnings.push(`${show(dir)} could not be listed (${codeOf(error)}).`);
    return;
  }
  for (const name of names) {
    if (++seen.n > MAX_WALK_ENTRIES) return;
    const path = join(dir, name);
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) {
      const target = realOrUndefined(path);
      if (target === undefined || !isWithin(target, realOrUndefined(root) ?? root)) {
        warnings.push(`${show(path)} is a symbolic link out of the install (to ${target === undefined ? 'nothing' : visible(target)}): not followed.`);
      }
      continue;
    }
    visit(path, st);
    if (st.isDirectory()) walk(path, root, depth + 1, seen, visit, warnings, show);
  }
}

// Reads at most `max` bytes; only regular files get here (a FIFO would block a plain read).
export function readBounded(path: string, max: number): { text: string; truncated: boolean } {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(max + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > max) return { text: '', truncated: true };
    }
    return { text: buffer.subarray(0, length).toString('utf8'), truncated: false };
  } finally {
    closeSync(fd);
  }
}

function realOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException)?.code ?? (error as Error)?.message ?? String(error);
}
