// The gateway sweep split over worker threads finds exactly what one thread finds: every port
// counted once, open ports named, bridge ports skipped, the socket cap shared. Loopback only.

import net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TcpScanner, sweepInWorker } from '../../src/verify/inside/tcp-scanner.ts';
import { gatewaySweep } from '../../src/verify/inside/gateway-sweep.ts';

const t = suite('gateway sweep: worker threads');

function listen(server: net.Server): Promise<number> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as net.AddressInfo).port)));
}

t('three worker threads report the same rows as this thread alone, with every port counted once', async () => {
  // A narrow range round one listener: loopback is shared with the machine's other listeners.
  const server = net.createServer((s) => s.destroy());
  const open = await listen(server);
  const from = Math.max(1, open - 40);
  const to = Math.min(65535, open + 40);
  const bridge = open === to ? open - 1 : open + 1;
  const manifest = { gateway: '127.0.0.1', gatewaySweep: { from: from as 1, to: to as 65535, except: [bridge] } };
  try {
    const runs = [];
    for (const workers of [0, 3]) {
      const scanner = new TcpScanner(24, 5000); // loopback answers at once; a long timeout only rides out load
      const seen: number[] = [];
      const r = await gatewaySweep(manifest, scanner, (done) => seen.push(done), { workers });
      scanner.close();
      const total = to - from; // the range less the one skipped bridge port
      assert.is(seen.at(-1), total, `progress reaches the total with ${workers} worker(s)`);
      assert.is(scanner.stats.attempts, total, `each port tried once with ${workers} worker(s)`);
      assert.ok(scanner.stats.maxOpen <= 24, `cap shared: ${scanner.stats.maxOpen}`);
      runs.push(r.results.map((x) => ({ ...x, ms: 0 })));
    }
    assert.equal(runs[1], runs[0]);
    const rows = runs[0]!;
    assert.is(rows[0]!.ok, false);
    assert.ok(rows.some((x) => x.probe === `127.0.0.1:${open}`), `open port ${open} named`);
    assert.not.ok(rows.some((x) => x.probe === `127.0.0.1:${bridge}`), 'the bridge port is skipped');
  } finally {
    server.close();
  }
});

t('a worker sweeps its slice alone: closed, open, skipped', async () => {
  const server = net.createServer((s) => s.destroy());
  const port = await listen(server);
  try {
    const r = await sweepInWorker({ host: '127.0.0.1', from: port - 5, to: port + 5, skip: [port + 1], cap: 4, timeoutMs: 5000 }, () => undefined);
    assert.equal(r.openPorts, [port]);
    assert.is(r.counts.open + r.counts.closed + r.counts.filtered, 10);
    assert.is(r.attempts, 10);
    assert.ok(r.maxOpen <= 4);
  } finally {
    server.close();
  }
});

t.run();
