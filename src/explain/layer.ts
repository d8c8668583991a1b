// What `explain` reports: for each way the VM could reach a target, the layers it meets in order,
// and for each layer its verdict with the policy line and the artifact line that decide it.

export type Verdict = 'pass' | 'block';

/** A line of an emitted artifact, found in the artifact's text (so it stays true when emitters change). */
export interface ArtifactLine {
  artifact: string;
  line: number;
  text: string;
}

export interface LayerResult {
  /** softnet, pf, nft, bridge, proxy, share — in the order a packet or file access meets them. */
  layer: string;
  verdict: Verdict;
  reason: string;
  /** A few words for the one-sentence answer ("block 0.0.0.0/0", "no bridge on port 22"). */
  brief?: string;
  policyLine?: number;
  artifactLine?: ArtifactLine;
  /** The firewall sent the packet on to another gateway port (an egress door): which, and by what line. */
  redirect?: { port: number; artifactLine: ArtifactLine };
}

export interface Route {
  /** "direct", "bridge NAME", or "egress proxy". */
  name: string;
  /** What the VM connects to on this route ("192.168.64.1:18123"), or the path it opens. */
  as: string;
  reaches: boolean;
  layers: LayerResult[];
}

export interface Explanation {
  target: string;
  kind: 'endpoint' | 'host' | 'path';
  /** One sentence: the answer. */
  summary: string;
  routes: Route[];
  notes: string[];
}

/** A packet from the VM as the layers see it. The VM's own address is any host of the VM subnet. */
export interface Packet {
  dst: { kind: 'ipv4'; value: number; text: string } | { kind: 'ipv6'; text: string } | { kind: 'name'; text: string };
  /** Undefined: any port (a host name was asked without one). */
  port?: number;
  proto: 'tcp';
  /** To the egress proxy: what the VM asks it for (CONNECT NAME:PORT; no port: any). */
  request?: { kind: 'name'; text: string; port?: number } | { kind: 'ipv4' | 'ipv6'; text: string };
}

// The line of `text` (1-based) whose non-comment text satisfies `pick`, for citing an artifact.
export function findArtifactLine(artifact: string, text: string, pick: (line: string) => boolean): ArtifactLine | undefined {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trimStart().startsWith('#')) continue;
    if (pick(line)) return { artifact, line: i + 1, text: line.trim() };
  }
  return undefined;
}
