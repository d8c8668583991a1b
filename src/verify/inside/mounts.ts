// Shares: each declared one is present under the shares root, `ro` refuses a write, `rw` accepts one
// (removed again), and nothing undeclared is there: a writable share the VM should not have can hold
// the policy or the bridge scripts, i.e. the cage itself.

import type { Dirent } from 'node:fs';
import { link, open, readdir, rename, stat, symlink, writeFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { VerifyManifest } from '../../formats/verify-manifest.ts';
import type { ProbeResult } from './result.ts';

/** Finder litter macOS may drop into the root; it is no share. */
const IGNORED = new Set(['.DS_Store']);

// Rows per declared mount, one per undeclared entry, and one if the root itself is missing.
export async function mountsProbe(root: string, mounts: VerifyManifest['mounts']): Promise<ProbeResult[]> {
  const started = performance.now();
  let entries: string[];
  try {
    entries = (await readdir(root)).filter((n) => !IGNORED.has(n));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    const ok = mounts.length === 0 && code === 'ENOENT';
    return [
      {
        group: 'mounts',
        probe: root,
        expected: mounts.length ? 'present' : 'absent or empty',
        measured: `cannot read (${code})`,
        ok,
        ms: Math.round(performance.now() - started),
        ...(ok ? {} : { detail: `the shares root "${root}" cannot be read in the VM (${code})` }),
      },
    ];
  }
  const declared = new Set(mounts.map((m) => m.name));
  const rows = await Promise.all(mounts.map((m) => checkMount(root, m, entries.includes(m.name))));
  for (const name of entries.filter((n) => !declared.has(n)).sort()) {
    rows.push({
      group: 'mounts',
      probe: join(root, name),
      expected: 'absent',
      measured: 'PRESENT',
      ok: false,
      ms: 0,
      detail: `"${name}" is shared into the VM but the policy does not declare it`,
    });
  }
  const present = mounts.filter((m) => entries.includes(m.name));
  for (const ro of present.filter((m) => m.mode === 'ro')) {
    for (const rw of present.filter((m) => m.mode === 'rw')) rows.push(await crossShare(join(root, ro.name), join(root, rw.name), ro.name, rw.name));
  }
  if (entries.every((n) => declared.has(n))) {
    rows.push({ group: 'mounts', probe: `${root}/*`, expected: 'nothing undeclared', measured: 'nothing undeclared', ok: true, ms: 0 });
  }
  return rows;
}

async function checkMount(root: string, m: VerifyManifest['mounts'][number], listed: boolean): Promise<ProbeResult> {
  const started = performance.now();
  const path = join(root, m.name);
  const expected = m.mode === 'ro' ? 'present, read-only' : 'present, writable';
  const result = (measured: string, ok: boolean, detail?: string): ProbeResult => ({
    group: 'mounts',
    probe: path,
    expected,
    measured,
    ok,
    ms: Math.round(performance.now() - started),
    ...(detail && !ok ? { detail } : {}),
  });
  try {
    if (!listed || !(await stat(path)).isDirectory()) return result('missing', false, `share "${m.name}" is not mounted in the VM`);
  } catch {
    return result('missing', false, `share "${m.name}" is not mounted in the VM`);
  }
  const probeFile = join(path, `.nanopolicy-verify-${randomBytes(6).toString('hex')}`);
  try {
    await writeFile(probeFile, 'nanopolicy verify: safe to delete\n', { flag: 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    if (m.mode === 'ro') return result(`present, read-only (${code})`, true);
    return result(`present, write refused (${code})`, false, `share "${m.name}" should be writable but refuses a write (${code})`);
  }
  await unlink(probeFile).catch(() => undefined);
  if (m.mode === 'rw') return result('present, writable', true);
  return result('present, WRITABLE', false, `share "${m.name}" is WRITABLE from the VM but the policy says ro`);
}

// Tries to reach a ro share's file through a rw share — a hard link, a rename, a symlink opened for
// writing, and a file written in the rw share turning up inside the ro one (the ro folder lies
// inside the rw one on the host). Any success means the ro share is writable from the VM after all.
async function crossShare(roPath: string, rwPath: string, ro: string, rw: string): Promise<ProbeResult> {
  const started = performance.now();
  const tag = randomBytes(6).toString('hex');
  const outcomes: string[] = [];
  const breaches: string[] = [];
  const tryIt = async (what: string, action: () => Promise<void>, undo?: () => Promise<void>) => {
    try {
      await action();
      breaches.push(what);
      outcomes.push(`${what} WORKED`);
      await undo?.().catch(() => undefined);
    } catch (e) {
      outcomes.push(`${what} ${(e as NodeJS.ErrnoException).code ?? 'refused'}`);
    }
  };
  const file = await findFirst(roPath, 2, 500, (e) => e.isFile());
  if (file) {
    const linked = join(rwPath, `.nanopolicy-verify-link-${tag}`);
    await tryIt('hard link', () => link(file, linked), () => unlink(linked));
    const moved = join(rwPath, `.nanopolicy-verify-move-${tag}`);
    // Put back at once if it worked: the file is the owner's.
    await tryIt('rename', () => rename(file, moved), () => rename(moved, file));
    const sym = join(rwPath, `.nanopolicy-verify-symlink-${tag}`);
    await tryIt('symlink write', async () => {
      await symlink(file, sym);
      try {
        await (await open(sym, 'r+')).close();
      } finally {
        await unlink(sym).catch(() => undefined);
      }
    });
  } else {
    outcomes.push('no file in the ro share to try link/rename/symlink on');
  }
  const marker = `.nanopolicy-verify-cross-${tag}`;
  try {
    await writeFile(join(rwPath, marker), 'nanopolicy verify: safe to delete\n', { flag: 'wx' });
    const seen = await findFirst(roPath, 3, 5000, (e) => e.name === marker);
    await unlink(join(rwPath, marker)).catch(() => undefined);
    if (seen) {
      breaches.push('a file written in the rw share');
      outcomes.push(`a file written in "${rw}" appeared at ${seen}`);
    } else outcomes.push('rw writes not visible');
  } catch (e) {
    outcomes.push(`marker not written (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const ok = breaches.length === 0;
  return {
    group: 'mounts',
    probe: `ro "${ro}" through rw "${rw}"`,
    expected: 'unreachable',
    measured: outcomes.join(', '),
    ok,
    ms: Math.round(performance.now() - started),
    ...(ok ? {} : { detail: `the ro share "${ro}" can be changed through the rw share "${rw}" (${breaches.join(', ')}): it is not read-only for the VM` }),
  };
}

// The first entry under `dir` that `match` accepts: breadth-first, at most `depth` levels below it,
// at most `limit` entries read.
async function findFirst(dir: string, depth: number, limit: number, match: (entry: Dirent) => boolean): Promise<string | undefined> {
  let level = [dir];
  let seen = 0;
  for (let d = 0; d <= depth && level.length > 0; d++) {
    const next: string[] = [];
    for (const at of level) {
      const ents = await readdir(at, { withFileTypes: true }).catch(() => []);
      for (const e of ents) {
        if (++seen > limit) return undefined;
        if (match(e)) return join(at, e.name);
        if (e.isDirectory()) next.push(join(at, e.name));
      }
    }
    level = next;
  }
  return undefined;
}
