// The floor plan of src/ as rules dependency-cruiser checks (docs/architecture.md draws it).
// A room may import from the rooms on the floors below it and from itself, never from a room on
// its own floor or above; a few arrows within a floor are named here on purpose. No circles.
// test/architecture/layers.test.ts runs this in `npm test`.
//
//   npx depcruise src --config .dependency-cruiser.cjs

/** Lowest floor first. `within` names the arrows allowed between rooms of one floor. */
const FLOORS = [
  { rooms: ['diagnostics', 'net'] },
  // formats ← host ← snapshots: a host reader may check a name a format fixes; snapshots ask tart.
  { rooms: ['formats', 'host', 'snapshots'], within: { host: ['formats'], snapshots: ['formats', 'host'] } },
  { rooms: ['grammar', 'compiler'], within: { compiler: ['grammar'] } },
  {
    rooms: ['inject', 'proxy', 'enforce', 'verify', 'explain', 'init', 'guest', 'doctor'],
    within: { proxy: ['inject'], verify: ['inject'], guest: ['enforce', 'verify'], doctor: ['enforce', 'verify', 'guest'] },
  },
  { rooms: ['cli'] },
];

// One rule per room: from it, to anything in src/ outside itself, the rooms below, the arrows
// allowed within its floor and the shared files at src/ top level (below every room).
function roomRules() {
  const rules = [];
  const below = [];
  for (const [index, floor] of FLOORS.entries()) {
    for (const room of floor.rooms) {
      const may = [room, ...below, ...((floor.within ?? {})[room] ?? [])];
      rules.push({
        name: `floor-${index + 1}-${room}`,
        severity: 'error',
        comment: `src/${room}/ may import only from src/{${may.join(',')}}/ and src/*.ts (docs/architecture.md)`,
        from: { path: `^src/${room}/` },
        to: { path: '^src/', pathNot: `^src/(?:(?:${may.join('|')})/|[^/]+$)` },
      });
    }
    below.push(...floor.rooms);
  }
  return rules;
}

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A circle of imports has no lowest member: move the shared piece down a floor.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'top-level-imports-no-room',
      severity: 'error',
      comment: 'src/*.ts are the shared utilities below every room: they import no room.',
      from: { path: '^src/[^/]+$' },
      to: { path: '^src/[^/]+/' },
    },
    {
      name: 'no-unknown-room',
      severity: 'error',
      comment: 'Every folder of src/ is a room of the plan: add a new one to FLOORS (and docs/architecture.md) first.',
      from: { path: '^src/', pathNot: `^src/(?:(?:${FLOORS.flatMap((f) => f.rooms).join('|')})/|[^/]+$)` },
      to: {},
    },
    {
      name: 'verify-inside-stays-small',
      severity: 'error',
      comment: 'src/verify/inside/ is bundled to run in the VM with Node built-ins only: it takes the manifest format and nothing of the host side.',
      from: { path: '^src/verify/inside/' },
      to: { path: '^src/', pathNot: '^src/(?:verify/inside/|formats/verify-manifest\\.ts$)' },
    },
    ...roomRules(),
  ],
  options: {
    includeOnly: '^src/',
    // Type-only imports are arrows too: the CLI's SetExit circle was one.
    tsPreCompilationDeps: true,
    // TypeScript 7 has no JavaScript API for dependency-cruiser's tsc parser; swc reads TS itself.
    parser: 'swc',
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
    cache: false,
  },
};
