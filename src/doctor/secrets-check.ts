// Each secret the proxy will read, read now as the owner the way the proxy reads it (the value is
// dropped at once): a keychain item that is missing, locked or closed to the `security` tool
// would stop enforce; doctor says so first, with the fix. A keychain item read fine now is still
// locked at boot until the owner logs in (docs/credential-injection.md): said on its row.

import type { Policy } from '../compiler/policy.ts';
import { describeSource, secretReadable } from '../verify/host/injection-host.ts';
import type { DoctorRow } from './doctor-row.ts';

// One row per secret; none when the policy has none.
export async function secretRows(policy: Pick<Policy, 'secrets' | 'owner'>, env: NodeJS.ProcessEnv, ownerUid: number): Promise<DoctorRow[]> {
  const rows: DoctorRow[] = [];
  for (const secret of policy.secrets) {
    const read = await secretReadable(secret, { ownerUid, env });
    const what = `the secret "${secret.name}" can be read by the proxy (${describeSource(secret.source)})`;
    if (read.ok) {
      rows.push({
        id: `secret-${secret.name}`,
        what,
        status: 'ok',
        detail: secret.source.kind === 'keychain'
          ? `readable now, ≥ 8 characters; after a reboot the boot job cannot read it until ${policy.owner.user} logs in (the login keychain is locked until then), and enforce fails closed`
          : 'readable now, ≥ 8 characters',
      });
    } else {
      rows.push({ id: `secret-${secret.name}`, what, status: 'fail', detail: read.message, fix: read.hint });
    }
  }
  return rows;
}
