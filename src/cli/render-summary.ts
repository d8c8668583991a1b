// The readable account of a compiled policy that `compile` prints without -o.

import { colors } from '../colors.ts';
import type { Artifact } from '../compiler/artifact.ts';
import { anchorName, SHARES_ROOT, type Policy } from '../compiler/policy.ts';
import { egressDoors } from '../compiler/egress-doors.ts';

export function renderSummary(policy: Policy, artifacts: readonly Artifact[], color: boolean): string {
  const c = colors(color);
  const { network } = policy;
  const lines: string[] = [];
  lines.push(`${c.bold(policy.vm)}  ${c.dim(`${policy.source.file}  sha256 ${policy.source.sha256.slice(0, 12)}`)}`);
  lines.push(`network  softnet ${network.subnet}, gateway ${network.gateway}`);
  lines.push('');
  if (policy.bridges.length === 0) {
    lines.push(c.bold('The VM may reach nothing: no bridges.'));
  } else {
    lines.push(c.bold(`The VM may reach, each through a socat bridge on ${network.gateway}:`));
    const rows = policy.bridges.map((b) => {
      const target = b.target.kind === 'ipv6' ? `[${b.target.host}]:${b.target.port}` : `${b.target.host}:${b.target.port}`;
      const notes = [b.tls ? 'tls' : '', b.pin ? 'pinned' : '', `≤${b.maxConnections} connections`].filter(Boolean).join(', ');
      return [b.name, `${network.gateway}:${b.listen}`, `→ ${target}`, c.dim(notes)];
    });
    lines.push(...table(rows));
  }
  const doors = egressDoors(policy);
  if (policy.proxy && doors) {
    // Both doors lead to the same rules: say where each is, so the owner knows what the VM dials.
    const dialled = doors.transparent.map((d) => `${network.gateway}:${d.port}`).join(', ');
    lines.push(c.bold(`The VM may reach by name (TLS server name checked, every address checked), through the transparent door on ${dialled} or the CONNECT proxy on ${network.gateway}:${policy.proxy.listen}:`));
    lines.push(...table(policy.egress.map((r) => [r.name, r.hosts.map((h) => (h.port === 443 ? h.host : `${h.host}:${h.port}`)).join(' ')])));
    lines.push(c.dim(`DNS on ${network.gateway}:53 is nanopolicy's responder: the listed names resolve to the gateway, every other name gets NXDOMAIN; nothing is forwarded.`));
    lines.push(c.dim('Everything else from the VM is refused: the internet, the LAN, other DNS, IPv6 and every other port of the host.'));
  } else {
    lines.push(c.dim('Everything else from the VM is refused: the internet, the LAN, DNS, IPv6 and every other port of the host.'));
  }
  lines.push('');
  if (policy.mounts.length === 0) {
    lines.push(c.bold('The VM sees no host folders.'));
  } else {
    lines.push(c.bold(`The VM sees, under "${SHARES_ROOT}":`));
    lines.push(
      ...table(
        policy.mounts.map((m) => [m.name, m.mode === 'rw' ? c.yellow('rw') : c.green('ro'), m.path, m.allowSensitive ? c.red('allow-sensitive') : '']),
      ),
    );
  }
  lines.push('');
  lines.push(c.bold(`Artifacts (write them with -o DIR; pf anchor ${anchorName(policy)}):`));
  lines.push(...table(artifacts.map((a) => [a.name, c.dim(a.description)])));
  return `${lines.join('\n')}\n`;
}

// Left-aligned columns, two spaces apart; colour codes do not count toward the width.
function table(rows: string[][]): string[] {
  const visible = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '').length;
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(cell))));
  return rows.map((row) =>
    `  ${row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visible(cell)))).join('  ')}`.trimEnd(),
  );
}
