// The CONNECT door: the client names where it wants to go in an HTTP CONNECT head. The door reads
// the head, lets the core decide and connect, answers "200 Connection established", and then
// requires the first ClientHello's SNI to be the CONNECT name; the core does the rest.

import { readRequestHead } from './request-head.ts';
import { parseConnectTarget } from './connect-target.ts';
import { normaliseName, printable } from './host-name.ts';
import type { Tunnel } from './egress-core.ts';

// Starts reading the request head; everything after it belongs to the core.
export function openConnectDoor(tunnel: Tunnel): void {
  const { socket, config } = tunnel;
  tunnel.httpOpen = true;
  let parts: Buffer[] = [];
  let have = 0;
  tunnel.arm(config.timeouts.headerMs, () => tunnel.refuse(`request head not complete within ${config.timeouts.headerMs} ms`));
  const onData = (chunk: Buffer): void => {
    parts.push(chunk);
    have += chunk.length;
    // The head is small (maxHeaderBytes): joined per chunk, it costs at most that much each time.
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, have);
    parts = [bytes];
    const head = readRequestHead(bytes, config.maxHeaderBytes);
    if (head.status === 'incomplete') return;
    socket.off('data', onData);
    socket.pause();
    tunnel.disarm();
    if (head.status === 'refused') {
      if (head.target !== undefined) tunnel.name = printable(head.target, 253);
      return tunnel.refuse(head.reason);
    }
    const target = parseConnectTarget(head.target);
    tunnel.name = target.name;
    tunnel.port = target.port;
    if (!target.ok) return tunnel.refuse(target.reason);
    void tunnel.decide(target.name, target.port).then((connected) => {
      if (!connected || tunnel.isFinished()) return;
      socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
      tunnel.httpOpen = false;
      tunnel.follow(head.rest, (hello) => {
        if (hello.sni === undefined) return 'ClientHello has no SNI';
        if (hello.ech) return 'encrypted ClientHello (ECH) hides the real name';
        if (normaliseName(hello.sni) !== target.name) return `SNI "${printable(hello.sni, 253)}" is not the CONNECT name`;
        return undefined;
      });
    });
  };
  socket.on('data', onData);
}
