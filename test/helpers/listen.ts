// Starts a test server on a free loopback port and resolves with the port.

import type net from 'node:net';

export function listen(server: net.Server): Promise<number> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as net.AddressInfo).port)));
}
