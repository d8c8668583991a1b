import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildArtifactManifest, sha256Hex } from '../../../src/compiler/emit/artifact-manifest.ts';
import { emitArtifacts } from '../../../src/compiler/emit/index.ts';
import { hostsEntries } from '../../../src/compiler/emit/hosts.ts';
import { emitLaunchdPlist, launchdProgramArguments } from '../../../src/compiler/emit/launchd-plist.ts';
import { buildVerifyManifest } from '../../../src/compiler/emit/verify-manifest.ts';
import { barePolicy, bundledPolicy, edgePolicy } from './sample-policy.ts';

const manifests = suite('verify.json, hosts, manifest.json, launchd.plist');

manifests('verify.json: the sweep spares exactly the bridges, direct lists the real targets', () => {
  const m = buildVerifyManifest(bundledPolicy());
  assert.equal(m.gatewaySweep, { from: 1, to: 65535, except: [16443, 18123, 18443] });
  assert.equal(m.direct, [
    { bridge: 'vaultwarden', host: 'bitwarden.cstrube.de', port: 443 },
    { bridge: 'homeassistant', host: '10.0.30.5', port: 8123 },
    { bridge: 'kubernetes', host: '10.0.40.100', port: 6443 },
  ]);
  assert.equal(m.hosts, [{ name: 'bitwarden.cstrube.de', address: '192.168.64.1' }]);
  assert.is(m.sharesRoot, '/Volumes/My Shared Files');
  assert.equal(m.mounts.map((x) => `${x.name}:${x.mode}`), ['groups:rw', 'data:rw', 'memory:rw', 'scripts:ro']);
  assert.is(m.anchor, 'com.apple/100.nanopolicy.nanoclaw-vm');
});

manifests('verify.json: a pin is carried, an absent pin leaves no key', () => {
  const [v6, git] = buildVerifyManifest(edgePolicy()).bridges;
  assert.is(v6?.pin, 'sha256/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=');
  assert.equal(v6?.target, { host: '2001:db8::10', port: 8443, kind: 'ipv6' });
  assert.not.ok(git && 'pin' in git);
});

manifests('hosts: TLS bridges to names only, deduplicated', () => {
  assert.equal(hostsEntries(edgePolicy()), [{ name: 'git.example.org', address: '192.168.64.1' }]);
  assert.equal(hostsEntries(barePolicy()), []);
});

manifests('manifest.json hashes every other artifact as written', () => {
  const artifacts = emitArtifacts(bundledPolicy());
  const m = buildArtifactManifest(bundledPolicy(), artifacts);
  assert.is(m.artifacts.length, artifacts.length - 1);
  for (const entry of m.artifacts) {
    const a = artifacts.find((x) => x.name === entry.name)!;
    assert.is(entry.sha256, sha256Hex(a.content));
    assert.is(entry.bytes, Buffer.byteLength(a.content));
    assert.is(entry.mode, a.name.endsWith('.sh') ? '0755' : '0644');
  }
});

manifests('launchd.plist runs enforce --supervise on the absolute policy path', () => {
  assert.equal(launchdProgramArguments(bundledPolicy()), ['/usr/local/bin/nanopolicy', 'enforce', '--supervise', '/Users/owner/nanoclaw/policy/nanoclaw.policy']);
  const text = emitLaunchdPlist({ ...bundledPolicy(), source: { ...bundledPolicy().source, file: 'a--b&<c>.policy', absolutePath: '/x/a&b<c>.policy' } }, { program: '/opt/np/bin/nanopolicy' });
  assert.ok(text.includes('<string>/x/a&amp;b&lt;c&gt;.policy</string>'));
  assert.ok(text.includes('<string>/opt/np/bin/nanopolicy</string>'));
  const comment = text.slice(text.indexOf('<!--') + 4, text.indexOf('-->'));
  assert.not.ok(comment.includes('--'), 'no "--" inside the XML comment');
  assert.throws(() => launchdProgramArguments(bundledPolicy(), { program: 'nanopolicy' }));
});

manifests.run();
