// Which open connection gives up its slot when the cap is reached: the longest-idle connection of
// the group (client and rule, or the client's undecided requests) holding the most slots, and only
// one idle for EVICT_IDLE_MS at least — a busy transfer is doing work, an idle tunnel re-opened as
// fast as it closes is the attack this answers. None: the newcomer gets 503 as before.

/** What fair-share needs to know about a connection. */
export interface Slot {
  group(): string;
  idleFor(): number;
  isFinished(): boolean;
}

export const EVICT_IDLE_MS = 1000;

// The connection to close for a newcomer, or undefined when none may be.
export function pickEvictee<T extends Slot>(open: readonly T[]): T | undefined {
  const groups = new Map<string, T[]>();
  for (const slot of open) {
    if (slot.isFinished()) continue; // already ending (a refusal draining): it frees itself
    const key = slot.group();
    const list = groups.get(key);
    if (list) list.push(slot);
    else groups.set(key, [slot]);
  }
  const most = Math.max(0, ...[...groups.values()].map((g) => g.length));
  // A group holding one slot is already at the least any group can have.
  if (most < 2) return undefined;
  let best: T | undefined;
  // Only the largest groups pay: a smaller group's idle tunnel is its fair share.
  for (const group of groups.values()) {
    if (group.length !== most) continue;
    for (const slot of group) if (slot.idleFor() >= EVICT_IDLE_MS && (!best || slot.idleFor() > best.idleFor())) best = slot;
  }
  return best;
}
