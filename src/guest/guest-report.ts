// What guest install and guest check found, one step per thing, each with a status and, when it
// is not fine, the fix. A step that could not run is "failed", never "ok".

export type StepStatus = 'ok' | 'changed' | 'unchanged' | 'missing' | 'differs' | 'not-loaded' | 'failed';

export interface GuestStep {
  id: string;
  what: string;
  status: StepStatus;
  detail: string;
  fix?: string;
}

export interface GuestReport {
  vm: string;
  /** false: the first command did not come back; nothing else was tried. */
  reachable: boolean;
  steps: GuestStep[];
  notes: string[];
}

/** Statuses that leave the guest as the policy wants it. */
export const FINE: ReadonlySet<StepStatus> = new Set(['ok', 'changed', 'unchanged']);

/** verify's probe bundle is built for Node 20 (scripts/build.js, target node20). */
export const MIN_NODE_MAJOR = 20;

// The probe's answer: system, user id, Node version (undefined: none).
export function parseProbe(stdout: string): { system: string; uid: string; node?: string } | undefined {
  const [system, uid, node] = stdout.trim().split('\n').map((l) => l.trim());
  if (!system || !uid || node === undefined) return undefined;
  return { system, uid, ...(node !== 'none' ? { node } : {}) };
}

// Node in the guest: verify runs its probes there (`node -` over tart exec).
export function nodeStep(node: string | undefined): GuestStep {
  const what = 'Node in the guest (verify runs its probes with it)';
  if (node === undefined) return { id: 'node', what, status: 'missing', detail: 'no "node" on the guest user\'s PATH', fix: `Install Node ${MIN_NODE_MAJOR} or later in the VM (brew install node).` };
  const major = Number(/^v(\d+)\./.exec(node)?.[1]);
  if (!(major >= MIN_NODE_MAJOR)) return { id: 'node', what, status: 'differs', detail: `node ${node}`, fix: `Install Node ${MIN_NODE_MAJOR} or later in the VM (brew upgrade node).` };
  return { id: 'node', what, status: 'ok', detail: `node ${node}` };
}

// The first command failed: the guest agent, tart or the --exec prefix is the problem.
export function unreachableStep(exitCode: number, stderr: string, viaTart: boolean): GuestStep {
  const first = stderr.trim().split('\n')[0] ?? '';
  const detail = first || `exit ${exitCode}`;
  const fix = /is not installed/.test(first)
    ? first.replace(/^.*install it with: /, 'Install it: ')
    : viaTart
      ? 'Start the VM (nanopolicy enforce), and check that the Tart Guest Agent runs in it (cirruslabs images ship it; "tart exec" needs Tart 2.27+ and a macOS 14+ host).'
      : 'Check the --exec prefix: it must run a command in the VM, as in "ip netns exec NS".';
  return { id: 'guest-agent', what: viaTart ? 'tart exec reaches the guest (the guest agent)' : 'the --exec prefix reaches the guest', status: 'failed', detail, fix };
}
