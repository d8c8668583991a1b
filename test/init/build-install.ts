// Builds NanoClaw-shaped installs in temp dirs: a home with ~/nanoclaw and, when asked, NanoClaw's
// mount allowlist. Each layout is a map of relative path → file text (or a link / folder).

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export type Entry = string | { link: string } | { dir: true };

export interface Install {
  home: string;
  root: string;
  cleanup(): void;
}

// Creates `home/nanoclaw/<path>` for every entry; paths starting with "~/" are under home instead.
export function buildInstall(entries: Record<string, Entry>): Install {
  const home = join(mkdtempSync(join(tmpdir(), 'np-init-')), 'home');
  const root = join(home, 'nanoclaw');
  mkdirSync(root, { recursive: true });
  for (const [rel, entry] of Object.entries(entries)) {
    const path = rel.startsWith('~/') ? join(home, rel.slice(2)) : join(root, rel);
    mkdirSync(dirname(path), { recursive: true });
    if (typeof entry === 'string') writeFileSync(path, entry);
    else if ('link' in entry) symlinkSync(entry.link.replace('$HOME', home), path);
    else mkdirSync(path, { recursive: true });
  }
  return { home, root, cleanup: () => rmSync(dirname(home), { recursive: true, force: true }) };
}

/** The seed's bridge script: bound to the VM's address, as the design notes had it. */
export const SEED_BRIDGES = `#!/bin/sh
# Bridges from the container days.
VM_IP=192.168.64.2
VAULT_HOST=bitwarden.cstrube.de

socat TCP-LISTEN:18443,fork,reuseaddr,bind=$VM_IP TCP:$VAULT_HOST:443 &
socat TCP4-LISTEN:18123,fork,reuseaddr,bind="\${VM_IP}" \\
      TCP4:10.0.30.5:8123 &
socat TCP-LISTEN:16443,fork,reuseaddr,bind=$VM_IP TCP:10.0.40.100:6443 &
# socat TCP-LISTEN:2222,fork TCP:10.0.0.1:22     (old ssh bridge, off)
wait
`;
