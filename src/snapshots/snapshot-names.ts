// Names of the VMs nanopolicy makes: snapshots `<vm>-np-<UTC timestamp>` and VMs set aside by a
// rollback `<vm>-np-replaced-<UTC timestamp>`. Only names of exactly this shape are ever pruned
// or rolled back to: every other VM on the Mac is someone else's.

/** 20261127T164820Z: sorts as text in time order. */
export function utcStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

export function snapshotName(vm: string, date: Date): string {
  return `${vm}-np-${utcStamp(date)}`;
}

export function replacedName(vm: string, date: Date): string {
  return `${vm}-np-replaced-${utcStamp(date)}`;
}

// The time a snapshot of `vm` was taken, or undefined when `name` is not one of its snapshots.
export function snapshotTime(vm: string, name: string): string | undefined {
  if (!name.startsWith(`${vm}-np-`)) return undefined;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(name.slice(vm.length + 4));
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z` : undefined;
}

// `vm`'s own snapshots among VM names, oldest first.
export function ownSnapshots(vm: string, names: readonly string[]): string[] {
  return names.filter((n) => snapshotTime(vm, n) !== undefined).sort();
}
