import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emitAnchor } from '../../../src/compiler/emit/anchor-pf.ts';
import { barePolicy, bundledPolicy, CASES, edgePolicy } from './sample-policy.ts';

const anchor = suite('anchor.pf');

// The lines pf reads: no comments, no blank lines.
function rules(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
}

for (const [name, build] of Object.entries(CASES)) {
  anchor(`${name}: ends with a newline, no antispoof, bridge100 only as the vm_if default`, () => {
    const text = emitAnchor(build());
    assert.ok(text.endsWith('\n'));
    assert.not.match(text, /antispoof/);
    assert.not.match(text, /^\s*set\s/m);
    for (const line of text.split('\n').filter((l) => l.includes('bridge100'))) {
      assert.ok(line.startsWith('#') || line === 'vm_if = "bridge100"', `unexpected bridge100 in: ${line}`);
    }
  });
  anchor(`${name}: every filter rule is quick; only the IPv6 block and the final catch-all name an interface`, () => {
    const filters = rules(emitAnchor(build())).filter((l) => /^(pass|block)\b/.test(l));
    for (const line of filters) {
      assert.match(line, / quick /);
      if (/ on /.test(line)) assert.match(line, /^block return in log quick on \$vm_if (inet6 )?all$/);
    }
    // Spoofed sources: the last rule catches everything on the VM's interface, whatever its address.
    assert.is(filters.at(-1), 'block return in log quick on $vm_if all');
  });
}

anchor('rules come in the designed order', () => {
  const text = emitAnchor(bundledPolicy());
  assert.equal(rules(text), [
    'vm_net = "192.168.64.0/24"',
    'gw = "192.168.64.1"',
    'bridge_ports = "{ 16443 18123 18443 }"',
    'vm_if = "bridge100"',
    'pass out quick inet from $gw to $vm_net keep state',
    'pass in quick inet proto tcp from $vm_net to $gw port $bridge_ports flags S/SA keep state',
    'pass in quick inet proto udp from { $vm_net, 0.0.0.0 } port 68 to { $gw, 255.255.255.255 } port 67 keep state',
    'block return in log quick on $vm_if inet6 all',
    'block return in log quick inet from $vm_net to any',
    'block return in log quick on $vm_if all',
  ]);
});

anchor('without bridges there is no bridge rule and no empty port list', () => {
  const text = emitAnchor(barePolicy());
  assert.not.match(text, /bridge_ports/);
  assert.match(text, /vm_net = "192\.168\.70\.0\/24"/);
  assert.match(text, /gw = "192\.168\.70\.1"/);
});

anchor('the interface can be given; a bad one is refused', () => {
  assert.match(emitAnchor(edgePolicy(), { vmIf: 'bridge101' }), /^vm_if = "bridge101"$/m);
  assert.throws(() => emitAnchor(edgePolicy(), { vmIf: 'bridge1"; pass all' }));
});

anchor('a VM name that cannot be an anchor path is refused', () => {
  assert.throws(() => emitAnchor({ ...bundledPolicy(), vm: 'a/b' }), /anchor path/);
});

anchor.run();
