import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emitTartRun, tartDirValue, tartRunArgv } from '../../../src/compiler/emit/tart-run.ts';
import { bundledPolicy, CASES, edgePolicy, mount } from './sample-policy.ts';

const tart = suite('tart-run.sh');

tart('the argv closes softnet, turns the clipboard off and lists the shares', () => {
  assert.equal(tartRunArgv(bundledPolicy()), [
    'run',
    '--no-graphics',
    '--no-clipboard',
    '--no-audio',
    '--net-softnet-block=0.0.0.0/0',
    '--net-softnet-allow=192.168.64.1/32',
    '--dir=groups:/Users/owner/nanoclaw/groups',
    '--dir=data:/Users/owner/nanoclaw/data',
    '--dir=memory:/Users/owner/nanoclaw/memory',
    '--dir=scripts:/Users/owner/nanoclaw/scripts:ro',
    'nanoclaw-vm',
  ]);
});

tart('a share tart would misread is refused', () => {
  assert.throws(() => tartDirValue(mount('x', '/a:b', 'rw')), /":"/);
  assert.throws(() => tartDirValue(mount('x', '/a,ro', 'rw')), /","/);
  assert.throws(() => tartDirValue(mount('x', 'relative', 'rw')), /absolute/);
  assert.throws(() => tartDirValue(mount('a/b', '/a', 'rw')), /share name/);
});

for (const [name, build] of Object.entries(CASES)) {
  tart(`${name}: sh -n accepts the script`, () => {
    execFileSync('sh', ['-n', '-c', emitTartRun(build())]);
  });
}

tart('the script hands tart exactly tartRunArgv, even for paths with spaces, quotes and $', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-tart-'));
  try {
    // A stand-in for tart that prints its arguments, NUL-separated.
    writeFileSync(join(dir, 'tart'), "#!/bin/sh\nprintf '%s\\0' \"$@\"\n");
    chmodSync(join(dir, 'tart'), 0o755);
    // A stand-in for `sudo -n pfctl -a … -sr` with the anchor loaded.
    writeFileSync(join(dir, 'sudo'), "#!/bin/sh\necho 'block return in quick from 192.168.64.0/24 to any'\n");
    chmodSync(join(dir, 'sudo'), 0o755);
    writeFileSync(join(dir, 'tart-run.sh'), emitTartRun(edgePolicy()));
    const out = execFileSync('sh', [join(dir, 'tart-run.sh')], { env: { PATH: `${dir}:/usr/bin:/bin`, HOME: '/nonexistent' } }).toString('utf8');
    assert.equal(out.split('\0').slice(0, -1), tartRunArgv(edgePolicy()));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

tart('the script refuses to start the VM while the anchor is not loaded, asking pfctl as sudoers allows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-tart-'));
  try {
    writeFileSync(join(dir, 'tart'), `#!/bin/sh\ntouch '${dir}/tart-ran'\n`);
    // pfctl prints nothing for an empty anchor; record what sudo was asked.
    writeFileSync(join(dir, 'sudo'), `#!/bin/sh\nprintf '%s ' "$@" > '${dir}/sudo-argv'\n`);
    chmodSync(join(dir, 'tart'), 0o755);
    chmodSync(join(dir, 'sudo'), 0o755);
    writeFileSync(join(dir, 'tart-run.sh'), emitTartRun(bundledPolicy()));
    let status = 0;
    let stderr = '';
    try {
      execFileSync('sh', [join(dir, 'tart-run.sh')], { env: { PATH: `${dir}:/usr/bin:/bin` }, stdio: 'pipe' });
    } catch (error) {
      status = (error as { status: number }).status;
      stderr = String((error as { stderr: Buffer }).stderr);
    }
    assert.is(status, 3);
    assert.match(stderr, /the pf anchor com\.apple\/100\.nanopolicy\.nanoclaw-vm is not loaded/);
    assert.not.ok(existsSync(join(dir, 'tart-ran')), 'tart never ran');
    assert.is(readFileSync(join(dir, 'sudo-argv'), 'utf8').trim(), '-n /sbin/pfctl -a com.apple/100.nanopolicy.nanoclaw-vm -sr');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

tart('the script refuses extra arguments', () => {
  const result = (() => {
    try {
      execFileSync('sh', ['-c', emitTartRun(bundledPolicy()), 'tart-run.sh', '--net-softnet-allow=0.0.0.0/0'], { stdio: 'pipe' });
      return 0;
    } catch (error) {
      return (error as { status: number }).status;
    }
  })();
  assert.is(result, 2);
});

tart.run();
