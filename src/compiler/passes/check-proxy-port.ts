// The egress proxy listens on an unprivileged gateway port of its own (no bridge there), and its
// connection limit is sane. Without a `proxy` line it takes port 13128 once any egress is listed.

import { errorAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { bridges, egressRules, findOption, statementsOf, type CheckContext } from '../check-context.ts';
import { DEFAULT_PROXY_PORT, MAX_PROXY_CONNECTIONS } from '../policy.ts';
import { doorPorts } from '../egress-doors.ts';
import { parsedEgressHosts } from '../net/egress-host.ts';

export function checkProxyPort({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const line = statementsOf(ast, 'proxy')[0];
  const egress = egressRules(ast)[0];
  if (!line && !egress) return out;
  // Where a problem with the port is shown: the proxy's port, or the first egress line's name.
  const at = line ? line.port.span : egress!.name.span;
  const written = line ? line.port.value : String(DEFAULT_PROXY_PORT);
  const port = Number(written);
  const which = line ? `The proxy port ${written}` : `The proxy's default port ${written}`;
  if (port < 1 || port > 65535) {
    out.push(errorAt(ast.file, at, { code: 'NP220', message: `${which} is out of range; ports run from 1 to 65535.`, hint: `Pick a free port from 1024 to 65535, as in "proxy via ${DEFAULT_PROXY_PORT}".` }));
  } else if (port < 1024) {
    out.push(
      errorAt(ast.file, at, {
        code: 'NP221',
        message: `${which} is below 1024.`,
        hint: `Ports below 1024 need root and belong to the host's own services; use one from 1024 up, as in "proxy via ${DEFAULT_PROXY_PORT}".`,
      }),
    );
  }
  const bridge = bridges(ast).find((b) => Number(b.port.value) === port);
  if (bridge) {
    out.push(
      errorAt(ast.file, at, {
        code: 'NP265',
        message: `${which} is already the listen port of the bridge "${bridge.name.value}" on line ${bridge.span.line}.`,
        hint: line ? 'Give the proxy a port no bridge uses.' : `Add a line "proxy via PORT" with a port no bridge uses, or move the bridge off ${port}.`,
      }),
    );
  }
  // The doors take the ports right above the proxy's (egress-doors.ts): none may be a bridge's.
  if (port >= 1024 && port <= 65535 && !bridge) {
    const listed = parsedEgressHosts(ast).flatMap((hosts) => hosts.flatMap((h) => (h.ok ? [h.port] : [])));
    const doors = doorPorts(port, listed);
    const taken = [...doors.transparent.map((d) => ({ listen: d.listen, what: `the transparent door for port ${d.port}` })), { listen: doors.dns, what: 'the DNS responder' }];
    for (const door of taken) {
      const clash = bridges(ast).find((b) => Number(b.port.value) === door.listen);
      if (door.listen > 65535 || clash) {
        out.push(
          errorAt(ast.file, at, {
            code: 'NP266',
            message: door.listen > 65535
              ? `${which} leaves no room above it for ${door.what} (it would need port ${door.listen}).`
              : `${which} puts ${door.what} on port ${door.listen}, the listen port of the bridge "${clash!.name.value}" on line ${clash!.span.line}.`,
            hint: `The doors listen on the ports right above the proxy's (${port + 1} to ${doors.dns}); ${line ? 'move the proxy' : 'add a line "proxy via PORT"'} so that no bridge is among them.`,
          }),
        );
        break;
      }
    }
  }
  const limit = line ? findOption(line, 'max-conn')?.value : undefined;
  if (limit && (Number(limit.value) < 1 || Number(limit.value) > MAX_PROXY_CONNECTIONS)) {
    out.push(
      errorAt(ast.file, limit.span, {
        code: 'NP223',
        message: `The connection limit ${limit.value} is out of range; it runs from 1 to ${MAX_PROXY_CONNECTIONS}.`,
        hint: 'Each tunnel holds two sockets on the host; the default, 64, suits one assistant.',
      }),
    );
  }
  return out;
}
