// Ports are 1–65535; listen ports are unprivileged, unique, and clear of the host's own services;
// connection limits are sane.

import { errorAt, warningAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { bridges, findOption, type CheckContext } from '../check-context.ts';
import type { Located } from '../../grammar/ast.ts';

// Services macOS itself may run on all addresses, gateway included: a bridge there would fight
// them for the port, or shadow them for the VM.
const MACOS_SERVICES: ReadonlyMap<number, string> = new Map([
  [3283, 'Apple Remote Desktop'],
  [5000, 'the AirPlay Receiver'],
  [5900, 'Screen Sharing (VNC)'],
  [7000, 'the AirPlay Receiver'],
]);
const MAX_CONNECTIONS = 1024;

export function checkBridgePorts({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const listenFirst = new Map<number, { name: string; line: number }>();
  const inRange = (node: Located, role: 'target' | 'listen') => {
    const port = Number(node.value);
    if (port < 1 || port > 65535) {
      out.push(
        errorAt(ast.file, node.span, {
          code: 'NP220',
          message: `The ${role} port ${node.value} is out of range; ports run from 1 to 65535.`,
          hint: role === 'listen' ? 'Pick a free port from 1024 to 65535 for the bridge, as in "via 18443".' : 'Write the port the service really listens on.',
        }),
      );
    }
  };
  // Indexed, and no list of the two ports per bridge: see findOption.
  const list = bridges(ast);
  for (let i = 0; i < list.length; i++) {
    const bridge = list[i]!;
    inRange(bridge.target.port, 'target');
    inRange(bridge.port, 'listen');
    const listen = Number(bridge.port.value);
    if (listen < 1 || listen > 65535) continue;
    if (listen < 1024) {
      out.push(
        errorAt(ast.file, bridge.port.span, {
          code: 'NP221',
          message: `The bridge "${bridge.name.value}" would listen on port ${listen}, below 1024.`,
          hint: `Ports below 1024 need root and belong to the host's own services; use one from 1024 up, as in "via ${10000 + listen}".`,
        }),
      );
    }
    const earlier = listenFirst.get(listen);
    if (earlier) {
      out.push(
        errorAt(ast.file, bridge.port.span, {
          code: 'NP222',
          message: `The listen port ${listen} is already used by the bridge "${earlier.name}" on line ${earlier.line}.`,
          hint: 'Each bridge listens on a port of its own.',
        }),
      );
    } else {
      listenFirst.set(listen, { name: bridge.name.value, line: bridge.span.line });
    }
    const service = MACOS_SERVICES.get(listen);
    if (service) {
      out.push(
        warningAt(ast.file, bridge.port.span, {
          code: 'NP310',
          message: `Port ${listen} is where macOS runs ${service}; the bridge "${bridge.name.value}" may fail to start or shadow it.`,
          hint: 'Prefer a port macOS does not use, as in "via 18443".',
        }),
      );
    }
    const limit = findOption(bridge, 'max-conn')?.value;
    if (limit && (Number(limit.value) < 1 || Number(limit.value) > MAX_CONNECTIONS)) {
      out.push(
        errorAt(ast.file, limit.span, {
          code: 'NP223',
          message: `The connection limit ${limit.value} is out of range; it runs from 1 to ${MAX_CONNECTIONS}.`,
          hint: 'Each connection is a socat process on the host; the default, 32, suits one assistant.',
        }),
      );
    }
  }
  return out;
}
