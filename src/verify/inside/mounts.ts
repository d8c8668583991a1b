// Shares: each declared one is present under the shares root, `ro` refuses a write, `rw` accepts one
// (removed again), and nothing undeclared is there: a writable share the VM should not have can hold
// the policy or the bridge scripts, i.e. the cage itself.

import { readdir, stat, writeFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { VerifyManifest } from '../manifest.ts';
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
