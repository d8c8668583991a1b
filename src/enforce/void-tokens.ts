// pf reference tokens recorded before the last boot are void: pf forgets every reference at boot,
// and xnu makes a token's value from a kernel address (bsd/net/pf_ioctl.c, generate_token), so an
// old value may name another program's reference now. They are dropped from the record, with a
// note, and never handed to `pfctl -X`.

import { writtenBeforeBoot } from '../host/boot-time.ts';
import type { Session } from './session.ts';
import { statePath, writeState, type EnforceState } from '../formats/enforce-state.ts';

// The state without its void tokens (written back when any were dropped), and the tokens dropped.
export function dropVoidTokens(session: Session, state: EnforceState): { state: EnforceState; dropped: string[] } {
  if (state.tokens.length === 0) return { state, dropped: [] };
  if (!writtenBeforeBoot(statePath(session.stateDir))) return { state, dropped: [] };
  const dropped = state.tokens;
  session.options.log(
    `the pf reference token(s) ${dropped.join(' ')} recorded in ${session.stateDir} are from before the last boot: the reboot voided them; dropped from the record without "pfctl -X" (their numbers may name another program's reference now)`,
  );
  const kept = { ...state, tokens: [] };
  writeState(session.stateDir, kept);
  return { state: kept, dropped };
}
