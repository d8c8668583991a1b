// A host path and the shares: which share shows it to the VM (and how), or that none does and
// which comes nearest. Paths are compared as written in the policy, after "~" is expanded.

import { posix } from 'node:path';
import { isWithin } from '../compiler/paths/expand-home.ts';
import { sensitiveSegment } from '../compiler/paths/sensitive-patterns.ts';
import { SHARES_ROOT, type Mount, type Policy } from '../compiler/policy.ts';
import { findArtifactLine, type Explanation, type LayerResult } from './layer.ts';

export function explainPath(policy: Policy, written: string, absolute: string, tartRun: string): Explanation {
  const path = posix.normalize(absolute).replace(/(.)\/$/, '$1');
  const cite = (m: Mount) => findArtifactLine('tart-run.sh', tartRun, (l) => l.includes(`--dir=${m.name}:`));
  const holder = policy.mounts.find((m) => isWithin(path, m.path));
  const notes: string[] = [];
  const secret = secretNote(holder, path);
  if (secret) notes.push(secret);
  if (holder) {
    const inside = posix.join(SHARES_ROOT, holder.name, posix.relative(holder.path, path));
    const line = cite(holder);
    const layer: LayerResult = {
      layer: 'share',
      verdict: 'pass',
      reason: `the share "${holder.name}" (${holder.path}) shows it ${holder.mode === 'ro' ? 'read-only' : 'read-write'}`,
      policyLine: holder.span.line,
      ...(line ? { artifactLine: line } : {}),
    };
    return {
      target: written,
      kind: 'path',
      summary: `${written} is visible to the VM as "${inside}", ${holder.mode === 'ro' ? 'read-only' : 'read-write'} (share "${holder.name}", policy line ${holder.span.line}).`,
      routes: [{ name: `share ${holder.name}`, as: inside, reaches: true, layers: [layer] }],
      notes,
    };
  }
  const below = policy.mounts.filter((m) => isWithin(m.path, path));
  for (const m of below) notes.push(`Inside it, the share "${m.name}" (${m.path}, policy line ${m.span.line}) is visible, ${m.mode === 'ro' ? 'read-only' : 'read-write'}.`);
  const nearest = nearestShare(policy.mounts, path);
  const reason = nearest ? `no share holds it; the nearest is "${nearest.name}" (${nearest.path}, policy line ${nearest.span.line})` : 'the policy shares no folder';
  const line = nearest ? cite(nearest) : undefined;
  return {
    target: written,
    kind: 'path',
    summary: `${written} is not visible to the VM: ${reason}.`,
    routes: [{ name: 'shares', as: path, reaches: false, layers: [{ layer: 'share', verdict: 'block', reason: `tart shares only the policy's --dir folders; ${reason}`, ...(nearest ? { policyLine: nearest.span.line } : {}), ...(line ? { artifactLine: line } : {}) }] }],
    notes,
  };
}

// The share with the longest common leading path with `path` (the first in the policy on a tie).
function nearestShare(mounts: readonly Mount[], path: string): Mount | undefined {
  let best: Mount | undefined;
  let bestLength = -1;
  const parts = path.split('/');
  for (const m of mounts) {
    const other = m.path.split('/');
    let n = 0;
    while (n < parts.length && n < other.length && parts[n] === other[n]) n++;
    if (n > bestLength) {
      best = m;
      bestLength = n;
    }
  }
  return best;
}

// What a secret-looking path means here, said once and true for where it lies: inside a share the
// VM sees it (check warns, NP252); as the share itself, only with allow-sensitive on its line; in
// no share, a mount of it would be refused (NP247).
function secretNote(holder: Mount | undefined, path: string): string | undefined {
  if (holder) {
    const inside = sensitiveSegment(posix.relative(holder.path, path));
    if (inside) {
      return `"${inside.segment}" looks secret (pattern "${inside.pattern}") and the VM can ${holder.mode === 'ro' ? 'read' : 'read and change'} it through the share "${holder.name}"; check warns of it (NP252). Move it out of the shared folder.`;
    }
    const own = sensitiveSegment(holder.path);
    return own ? `The share "${holder.name}" itself looks secret (pattern "${own.pattern}"); its line says allow-sensitive, so it is shared knowingly.` : undefined;
  }
  const secret = sensitiveSegment(path);
  return secret ? `"${secret.segment}" looks secret (pattern "${secret.pattern}"): no share shows it, and a mount of it would be refused (NP247) without allow-sensitive.` : undefined;
}
