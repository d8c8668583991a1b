// Public suffixes (the Public Suffix List, through tldts): names under which anyone can register
// their own domain. A wildcard on one ("*.com") would let the VM reach every site there.

import { createRequire } from 'node:module';

type Tldts = typeof import('tldts');
let tldts: Tldts | undefined;

// The built CLI requires its own copy beside it (dist/tldts.cjs, scripts/build.js); from src/, the package.
declare const __NANOPOLICY_TLDTS__: string | undefined;
const TLDTS = typeof __NANOPOLICY_TLDTS__ === 'string' ? __NANOPOLICY_TLDTS__ : 'tldts';

// tldts holds the whole list (about 300 KB of code, the largest part of the CLI): it is loaded on
// the first wildcard a policy has, not at every start (scripts/build.js keeps it a file of its own).
function parse(...args: Parameters<Tldts['parse']>): ReturnType<Tldts['parse']> {
  tldts ??= createRequire(import.meta.url)(TLDTS) as Tldts;
  return tldts.parse(...args);
}

export type SuffixKind = 'icann' | 'private' | undefined;

// Whether `name` is itself a public suffix: "icann" (com, co.uk, and any unlisted TLD by the
// list's implicit "*" rule), "private" (github.io, where a company lets anyone register names),
// or undefined for a registrable name or a name below one.
export function publicSuffixKind(name: string): SuffixKind {
  const icann = parse(name, { allowPrivateDomains: false });
  if (icann.publicSuffix === name) return 'icann';
  const any = parse(name, { allowPrivateDomains: true });
  if (any.publicSuffix === name && any.isPrivate) return 'private';
  return undefined;
}

// The domain a name was registered under ("discord.gg" for "gateway.discord.gg", "example.github.io"
// under the private part), or undefined for a suffix itself.
export function registrableDomain(name: string): string | undefined {
  return parse(name, { allowPrivateDomains: true }).domain ?? undefined;
}
