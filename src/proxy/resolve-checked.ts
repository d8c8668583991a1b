// Resolves an allowed name on the host and checks every address the answer holds; the caller
// connects only to the addresses returned here (in the resolver's order) and never looks the name
// up again, so a second answer (DNS rebinding) cannot slip in between the check and the connect.

import { parseIp, type Cidr, type IpBytes } from './ip-address.ts';
import { whyRefused } from './refused-address.ts';

export interface LookupAddress { address: string; family: number }
export type Lookup = (name: string) => Promise<LookupAddress[]>;

export interface CheckedAddress { address: string; family: 4 | 6 }
export type Resolved = { ok: true; addresses: CheckedAddress[] } | { ok: false; reason: string; address?: string };

// One refused address refuses the name: an answer that mixes a public address with 127.0.0.1
// is a rebinding attempt, and which of them a client would get is not ours to guess.
export async function resolveChecked(name: string, lookup: Lookup, deny: readonly Cidr[], timeoutMs: number,
  own: readonly IpBytes[] = []): Promise<Resolved> {
  let answers: LookupAddress[];
  let timer: NodeJS.Timeout | undefined;
  try {
    answers = await Promise.race([
      lookup(name),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEOUT' })), timeoutMs); }),
    ]);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return { ok: false, reason: `name did not resolve (${code})` };
  } finally {
    clearTimeout(timer);
  }
  if (!Array.isArray(answers) || answers.length === 0) return { ok: false, reason: 'name resolved to no address' };
  const addresses: CheckedAddress[] = [];
  for (const answer of answers) {
    const ip = parseIp(String(answer?.address));
    if (!ip) return { ok: false, reason: `name resolved to something that is not an address` };
    const why = whyRefused(ip, deny, own);
    if (why) return { ok: false, reason: `name resolves to ${answer.address}: ${why}`, address: answer.address };
    if (!addresses.some((a) => a.address === answer.address)) addresses.push({ address: answer.address, family: ip.family });
  }
  return { ok: true, addresses };
}
