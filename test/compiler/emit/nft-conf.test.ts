import { execFileSync, spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emitNftConf, nftTableName } from '../../../src/compiler/emit/nft-conf.ts';
import { barePolicy, bundledPolicy, CASES, edgePolicy } from './sample-policy.ts';

const nftSuite = suite('nft.conf');

// Whether `nft` can run here; under CI it must, and its absence fails the test instead of skipping.
function haveNft(): boolean {
  const found = spawnSync('nft', ['--version']).status === 0;
  if (!found && process.env['CI'] === 'true') throw new Error('nft is missing: CI must install nftables');
  return found;
}

nftSuite('the table name maps "-" and "." to "_"', () => {
  assert.is(nftTableName(bundledPolicy()), 'nanopolicy_nanoclaw_vm');
  assert.is(nftTableName(edgePolicy()), 'nanopolicy_edge_vm_2');
});

nftSuite('no bridges: no empty port set', () => {
  assert.not.match(emitNftConf(barePolicy()), /dport \{/);
});

nftSuite('the interface can be given; a bad one is refused', () => {
  assert.match(emitNftConf(bundledPolicy(), { vmIf: 'veth-vm0' }), /^define vm_if = "veth-vm0"$/m);
  assert.throws(() => emitNftConf(bundledPolicy(), { vmIf: 'x"; flush ruleset' }));
});

for (const [name, build] of Object.entries(CASES)) {
  nftSuite(`${name}: nft -c accepts the file (checks, loads nothing)`, () => {
    if (!haveNft()) return console.log('  (nft not installed: skipped outside CI)');
    execFileSync('nft', ['-c', '-f', '-'], { input: emitNftConf(build()), stdio: ['pipe', 'pipe', 'pipe'] });
  });
}

nftSuite('spoofed sources: both chains end with a catch-all on the VM interface, after the DHCP accept', () => {
  const text = emitNftConf(bundledPolicy());
  for (const chain of ['input', 'forward']) {
    const body = new RegExp(`chain ${chain} \\{([^}]*)\\}`).exec(text.replace(/\{ [^}]* \}/g, 'SET'))?.[1] ?? '';
    const rules = body.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith('type '));
    assert.equal(rules.slice(-2), ['iifname $vm_if meta l4proto tcp counter reject with tcp reset', 'iifname $vm_if counter reject with icmpx admin-prohibited'], chain);
    // Every reject counts (verify compares the counters with what the VM claims).
    for (const r of rules.filter((l) => / reject /.test(l))) assert.match(r, / counter reject /);
  }
  assert.ok(text.indexOf('udp dport 67 accept') < text.indexOf('iifname $vm_if meta l4proto tcp counter'), 'DHCP must be accepted before the catch-all');
});

nftSuite('loading twice in a throwaway namespace replaces the table atomically', () => {
  if (!haveNft()) return console.log('  (nft not installed: skipped outside CI)');
  const ns = `np-emit-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const inNs = (args: string[], input?: string) =>
      execFileSync('ip', ['netns', 'exec', ns, 'nft', ...args], { input, stdio: ['pipe', 'pipe', 'pipe'] }).toString('utf8');
    const policy = bundledPolicy();
    inNs(['-f', '-'], emitNftConf(policy, { vmIf: 'veth0' }));
    inNs(['-f', '-'], emitNftConf(policy, { vmIf: 'veth1' }));
    const listed = inNs(['list', 'table', 'inet', nftTableName(policy)]);
    assert.match(listed, /iifname "veth1" meta nfproto ipv6 counter packets 0 bytes 0 reject with icmpv6 admin-prohibited/);
    assert.not.match(listed, /veth0/);
    assert.is(listed.match(/tcp dport \{ 16443, 18123, 18443 \} counter packets 0 bytes 0 accept/g)?.length, 1);
    assert.is(inNs(['list', 'tables']).trim(), `table inet ${nftTableName(policy)}`);
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
});

nftSuite.run();
