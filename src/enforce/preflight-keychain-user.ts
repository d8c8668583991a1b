// A policy that reads a secret from the keychain needs the proxy to run as the policy's owner:
// `security find-generic-password` searches the keychains of the user it runs as, and the proxy
// runs as enforce does. Run as root (sudo nanopolicy enforce), it would search root's keychains
// and miss the owner's item — or find one someone else put there (docs/credential-injection.md,
// "Which user reads the keychain").

import { userInfo } from 'node:os';
import type { Policy } from '../compiler/policy.ts';
import type { PreflightCheck } from './preflight.ts';

export interface RunningUser {
  uid: number;
  user: string;
}

// The check, or undefined when the policy reads no keychain item.
export function keychainUserCheck(policy: Pick<Policy, 'owner' | 'secrets'>, running: () => RunningUser = currentUser): PreflightCheck | undefined {
  const items = policy.secrets.filter((s) => s.source.kind === 'keychain');
  if (items.length === 0) return undefined;
  return {
    id: 'keychain-user',
    describe: `Check enforce runs as ${policy.owner.user}, whose login keychain holds ${items.map((s) => `"${s.name}"`).join(', ')}`,
    commands: [],
    async check() {
      const me = running();
      if (me.uid === 0) {
        return [{ message: `enforce runs as root: the proxy would read root's keychains, not the login keychain of ${policy.owner.user}, for the secret "${items[0]!.name}".`, fix: `Run enforce as ${policy.owner.user}, without sudo (it asks sudo only for pfctl; the boot job runs as the owner too).` }];
      }
      if (me.user !== policy.owner.user) {
        return [{ message: `enforce runs as ${me.user}, but the policy is ${policy.owner.user}'s: the proxy would read ${me.user}'s keychain for the secret "${items[0]!.name}".`, fix: `Run enforce as ${policy.owner.user}, or compile the policy as ${me.user}.` }];
      }
      return [];
    },
  };
}

function currentUser(): RunningUser {
  return { uid: process.getuid?.() ?? -1, user: userInfo().username };
}
