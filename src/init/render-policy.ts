// Writes the findings as a commented policy. Every statement line is built only from checked
// pieces (a name from policyName, a host matching the grammar's host characters, numbers, a path
// from policyPath); everything found as text goes into comments made visible. Lines are kept as
// records so the check that follows can turn a refused statement into a comment.

import { DEFAULT_GATEWAY } from '../compiler/policy.ts';
import { expandHome } from '../compiler/paths/expand-home.ts';
import type { FoundBridge } from './find-socat-bridges.ts';
import type { MountAllowlist } from './read-mount-allowlist.ts';
import type { InstallFindings } from './scan-install.ts';
import { keychainService, knownSecrets, type KnownSecret } from './known-secrets.ts';
import { bridgeName, isVaultTarget, nameAllocator, policyName } from './names.ts';
import { comment, policyPath } from './policy-text.ts';
import { visible } from './visible-text.ts';

export interface PolicyLine {
  text: string;
  /** A statement init wrote (the check may refuse it; then it becomes a comment). */
  statement?: boolean;
}

export interface AllowlistInput {
  /** As shown: "~/.config/nanoclaw/mount-allowlist.json". */
  shown: string;
  list?: MountAllowlist;
  /** Why it was not read (absent file: undefined list and problem). */
  problem?: string;
}

export interface RenderInput {
  findings: InstallFindings;
  allowlist: AllowlistInput;
  vm: string;
  home: string;
  snapshots: number;
}

// Listen ports socat may not use here: below 1024 needs root, and nanopolicy refuses it (NP221).
const FIRST_FREE_PORT = 18000;

// The policy lines and the warnings that go with them.
export function renderPolicy(input: RenderInput): { lines: PolicyLine[]; warnings: string[] } {
  const { findings, home } = input;
  const lines: PolicyLine[] = [];
  const warnings: string[] = [];
  const add = (text: string, statement = false) => lines.push(statement ? { text, statement } : { text });
  const name = nameAllocator();
  for (const reserved of ['groups', 'data', 'memory', 'scripts']) name(reserved);
  // Credentials in .env that the proxy can inject (names only: init reads no value).
  const secrets = knownSecrets(findings.envKeys ?? []);
  const has = (service: KnownSecret['service']) => secrets.some((s) => s.service === service);
  // The egress rules' names, so that a bridge init names after its host never takes them.
  const egressNames: EgressNames = {
    claude: name('claude'),
    discord: name('discord'),
    ...(has('anthropic') || has('claude-oauth') ? { signin: name('claude-signin') } : {}),
    ...(has('discord') ? { gateway: name('discord-gateway'), cdn: name('discord-cdn') } : {}),
    ...(has('github') ? { github: name('github') } : {}),
  };

  add(comment(`Policy for the NanoClaw install ${findings.root}, written by "nanopolicy init".`));
  add(comment('init writes down what it found; read every line, then run "nanopolicy check" on this file.'));
  add('');
  add(`vm ${input.vm}`);
  add('');
  add(comment('Before each start, enforce clones the stopped VM and keeps the newest clones;'));
  add(comment('"nanopolicy rollback" puts one back. Remove the line to take none.'));
  add(`snapshot keep ${input.snapshots}`, true);
  add('');

  // Bridges.
  const bridges = uniqueBridges(findings.bridges);
  add(comment(`Bridges found in the install's scripts. Each becomes a socat on the gateway ${DEFAULT_GATEWAY}`));
  add(comment('that accepts only the VM: the VM reaches HOST:PORT as the gateway address and the "via" port.'));
  if (bridges.length === 0) {
    add(comment('None found. Add one line per service the assistant needs, as in:'));
    add(comment('allow homeassistant 10.0.30.5:8123 via 18123'));
  }
  const usedPorts = new Set<number>();
  let vaultName: string | undefined;
  let vaultShown: string | undefined;
  for (const b of bridges) {
    add(comment(`${b.file}:${b.line}: ${b.words.join(' ')}`));
    for (const note of bindNotes(b)) add(comment(`  ${note}`));
    let listen = b.listen;
    if (listen < 1024) {
      const next = freePort(usedPorts);
      add(comment(`  It listened on ${listen}, below 1024 (root only); it listens on ${next} now: point the client in the VM there.`));
      warnings.push(`${b.file}:${b.line}: the bridge listened on port ${listen}; the policy uses ${next} (ports below 1024 need root).`);
      listen = next;
    }
    usedPorts.add(listen);
    const n = name(bridgeName(b));
    const target = b.ipv6 ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`;
    const tls = [443, 8443, 6443].includes(b.port) ? ' tls' : '';
    add(`allow ${n} ${target} via ${listen}${tls}`, true);
    if (isVaultTarget(b.host) && vaultName === undefined) {
      vaultName = n;
      vaultShown = `${b.ipv6 ? `[${b.host}]` : b.host}:${listen}`;
    }
    if (b.bind !== undefined && bindsVm(b.bind)) warnings.push(`${b.file}:${b.line}: the bridge bound the VM's address (${visible(b.bind)}), which a host listener cannot bind; the policy binds the gateway.`);
    if (b.bind === undefined) warnings.push(`${b.file}:${b.line}: the bridge listened on every host address, reachable from the LAN; the policy binds the gateway only.`);
  }
  for (const u of findings.unusable) {
    add(comment(`${u.file}:${u.line}: ${u.words.join(' ')}`));
    add(comment(`  not a bridge: ${u.reason}.`));
    warnings.push(`${visible(u.file)}:${u.line}: a socat line init could not turn into a bridge: ${visible(u.reason)}.`);
  }
  add('');

  renderEgress(add, egressNames, secrets);

  // Shares.
  add(comment('Folders the VM sees at "/Volumes/My Shared Files/<name>".'));
  for (const wanted of ['groups', 'data', 'memory', 'scripts'] as const) {
    const folder = findings.folders.find((f) => f.name === wanted);
    const mode = wanted === 'scripts' ? 'ro' : 'rw';
    if (wanted === 'scripts') {
      add(comment('scripts: read-only. The host runs what is in it: a VM that could write there could run'));
      add(comment('code on the host.'));
    }
    if (folder === undefined) {
      add(comment(`${wanted}: not found in the install; nothing to share.`));
      continue;
    }
    if (folder.link !== undefined) {
      add(comment(`${wanted} is a symbolic link to ${folder.link.target ?? 'nothing (broken)'}${folder.link.outside ? ', outside the install' : ''}; tart would share the`));
      add(comment('target. If that is what you mean, share it by its real path:'));
      const real = folder.link.target !== undefined ? policyPath(folder.link.target, home) : undefined;
      if (real !== undefined) add(comment(`mount ${wanted} ${real} ${mode}`));
      continue;
    }
    const path = policyPath(folder.path, home);
    if (path === undefined) {
      add(comment(`${wanted}: its path ${folder.path} holds a control character; no policy line can share it.`));
      warnings.push(`${visible(folder.path)} holds a control character in its path: not shared.`);
      continue;
    }
    add(`mount ${wanted} ${path} ${mode}`, true);
  }
  const others = findings.folders.filter((f) => f.kind === 'other');
  if (others.length > 0) {
    add(comment('Other folders in the install, not shared. Share one only if the assistant needs it:'));
    for (const f of others) {
      const path = f.link?.target ?? f.path;
      const shown = policyPath(path, home);
      const n = policyName(f.name) || 'folder';
      add(shown === undefined ? comment(`${f.name}: its path holds a control character; it cannot be shared`) : comment(`mount ${n} ${shown} ro${f.link ? `   (a link to ${path})` : ''}`));
    }
  }
  add('');

  // NanoClaw's own allowlist.
  renderAllowlist(input, add, name, warnings);

  // .env
  add(comment('.env is never shared: a share is a whole folder, and a secret the agent can read is a secret'));
  add(comment('a prompt injection can send away.'));
  // A Claude subscription token beside an API key is not injected (renderSecrets says why).
  const injected = new Set(secrets.filter((s) => s.service !== 'claude-oauth' || !has('anthropic')).map((s) => s.envKey));
  const rest = (findings.envKeys ?? []).filter((k) => !injected.has(k));
  if (findings.envKeys !== undefined) {
    add(comment(`It holds ${findings.envKeys.length} key${findings.envKeys.length === 1 ? '' : 's'} (names only; init read no value into this file):`));
    for (let i = 0; i < findings.envKeys.length; i += 6) add(comment(`  ${findings.envKeys.slice(i, i + 6).join(' ')}`));
    if (injected.size > 0) add(comment(`${[...injected].join(' ')}: into the keychain and out of .env, as the "secret" lines above say.`));
  } else if (findings.envUnreadable !== undefined) {
    add(comment(`It could not be read (${findings.envUnreadable}); list its keys by hand.`));
  } else {
    add(comment('This install has none.'));
  }
  if (rest.length > 0 || findings.envUnreadable !== undefined) {
    add(comment(`Move ${injected.size > 0 ? 'the others' : 'each'} into Vaultwarden (one item per key), then delete it from .env. The assistant fetches`));
    if (vaultName !== undefined) {
      add(comment(`them at start through the bridge "${vaultName}", e.g. with the Bitwarden CLI in the VM:`));
      add(comment(`  bw config server https://${vaultShown} && bw login && bw get password KEY`));
    } else {
      add(comment('them at start through a bridge to your Vaultwarden; init found none, so add one, as in:'));
      add(comment('  allow vaultwarden vault.example.org:443 via 18443 tls'));
    }
  }
  return { lines, warnings };
}

interface EgressNames {
  claude: string;
  discord: string;
  /** Only with an injected Anthropic credential: the sign-in names, which must not receive it. */
  signin?: string;
  /** Only with an injected Discord token: the gateway (its token in IDENTIFY/RESUME) and the CDN. */
  gateway?: string;
  cdn?: string;
  github?: string;
}

// The names NanoClaw needs on the internet, each from the service's own network documentation:
// without them the assistant in the cage reaches neither Claude nor Discord. Constant text: no name
// is looked up here (init never resolves anything). With known credentials in .env, each goes on
// its own line with its injection: an injecting line gives the secret to every name on it, so the
// sign-in names and the CDN get lines of their own.
function renderEgress(add: (t: string, s?: boolean) => void, names: EgressNames, secrets: readonly KnownSecret[]): void {
  const secretOf = (service: KnownSecret['service']) => secrets.find((s) => s.service === service);
  const anthropic = secretOf('anthropic');
  const oauth = secretOf('claude-oauth');
  const discord = secretOf('discord');
  const github = secretOf('github');
  if (secrets.length > 0) renderSecrets(add, secrets, anthropic !== undefined && oauth !== undefined ? oauth : undefined, names.claude);

  add(comment('Names the assistant reaches on the internet, through the egress doors enforce starts on the'));
  add(comment('gateway (TLS server name checked, every address the name resolves to checked): the transparent'));
  add(comment('door (in the VM these names resolve to the gateway, and any client works unchanged) or the'));
  add(comment('CONNECT proxy (proxy.env; "nanopolicy guest install" puts it in place). "nanopolicy log --refused"'));
  add(comment('shows any other name the assistant tried.'));
  add(comment('Claude Code, from its network requirements (code.claude.com/docs/en/network-config):'));
  add(comment('  api.anthropic.com the Claude API; claude.ai and platform.claude.com sign-in (claude.ai and Console accounts).'));
  if (anthropic !== undefined) {
    add(comment('The API takes its key in the x-api-key header (Anthropic\'s API reference).'));
    add(`egress ${names.claude} api.anthropic.com inject x-api-key: {${anthropic.secret}}`, true);
    add(`egress ${names.signin!} claude.ai platform.claude.com`, true);
  } else if (oauth !== undefined) {
    add(comment('Claude Code sends its subscription token (claude setup-token) as Authorization: Bearer.'));
    add(`egress ${names.claude} api.anthropic.com inject authorization: Bearer {${oauth.secret}}`, true);
    add(`egress ${names.signin!} claude.ai platform.claude.com`, true);
  } else {
    add(`egress ${names.claude} api.anthropic.com claude.ai platform.claude.com`, true);
  }
  add(comment('Discord, from its API docs (github.com/discord/discord-api-docs): discord.com the HTTP API'));
  add(comment('(docs/reference: https://discord.com/api); gateway.discord.gg the gateway\'s WebSocket (docs/events/'));
  add(comment('gateway.mdx, Get Gateway); *.discord.gg the resume_gateway_url of READY, a host of its own;'));
  add(comment('cdn.discordapp.com attachments and avatars (docs/reference, Image Formatting).'));
  add(comment('discord.js opens the gateway\'s WebSocket without HTTPS_PROXY: it goes through the transparent door.'));
  if (discord !== undefined) {
    add(comment('The HTTP API takes "Authorization: Bot TOKEN" (docs/reference, Authentication); the gateway takes'));
    add(comment('the token in the IDENTIFY and RESUME payloads, and only there does the proxy put it.'));
    add(`egress ${names.discord} discord.com inject authorization: Bot {${discord.secret}}`, true);
    add(`egress ${names.gateway!} gateway.discord.gg *.discord.gg websocket-token {${discord.secret}}`, true);
    add(`egress ${names.cdn!} cdn.discordapp.com`, true);
  } else {
    add(`egress ${names.discord} discord.com gateway.discord.gg *.discord.gg cdn.discordapp.com`, true);
  }
  if (github !== undefined) {
    add(comment('GitHub\'s REST API, from its docs (docs.github.com, "Authenticating to the REST API"):'));
    add(comment('"Authorization: Bearer TOKEN". Only api.github.com receives the token; add github.com'));
    add(comment('(git over HTTPS) on a line of its own if the assistant clones.'));
    add(`egress ${names.github!} api.github.com inject authorization: Bearer {${github.secret}}`, true);
  }
  add('');
}

// The `secret` lines and the owner's steps that go with them. `unused` is a second Claude
// credential no line can inject (one header per name; the API key wins): left as comments.
function renderSecrets(add: (t: string, s?: boolean) => void, secrets: readonly KnownSecret[], unused: KnownSecret | undefined, claudeName: string): void {
  add(comment('Credentials from .env that the egress proxy adds on the host: the VM holds only a placeholder'));
  add(comment('(nanopolicy-placeholder:NAME, set in proxy.env as the variable the tool reads) and never the value.'));
  add(comment('Move each value into your login keychain (the command asks for it; it is never on a command'));
  add(comment('line), then delete the key from .env:'));
  for (const s of secrets) if (s !== unused) add(comment(`  security add-generic-password -s ${keychainService(s.secret)} -a "$USER" -w      # ${s.envKey}`));
  add(comment('The proxy reads them when enforce starts it, as you (docs/credential-injection.md: unlock the'));
  add(comment('login keychain after a reboot, or "nanopolicy doctor" says why the start failed).'));
  for (const s of secrets) {
    const line = `secret ${s.secret} from keychain ${keychainService(s.secret)} env ${s.envKey}`;
    if (s === unused) {
      add(comment(`${s.envKey} is left out: api.anthropic.com takes one credential, and the API key is used. To use`));
      add(comment('the subscription token instead, write these two lines in place of the others:'));
      add(comment(line));
      add(comment(`egress ${claudeName} api.anthropic.com inject authorization: Bearer {${s.secret}}`));
    } else {
      add(line, true);
    }
  }
  add('');
}

function renderAllowlist(input: RenderInput, add: (t: string, s?: boolean) => void, name: (w: string) => string, warnings: string[]): void {
  const { allowlist, home } = input;
  if (allowlist.list === undefined) {
    if (allowlist.problem !== undefined) warnings.push(`${allowlist.shown} was not read: ${visible(allowlist.problem)}; its extra folders are not in the policy.`);
    add(comment(allowlist.problem === undefined ? `No NanoClaw mount allowlist at ${allowlist.shown}: no extra folders.` : `NanoClaw's mount allowlist ${allowlist.shown} was not read: ${allowlist.problem}.`));
    add('');
    return;
  }
  const list = allowlist.list;
  add(comment(`Extra folders from NanoClaw's mount allowlist (${allowlist.shown}).`));
  if (list.allowedRoots.length === 0) add(comment('It allows none.'));
  for (const root of list.allowedRoots) {
    const expanded = expandHome(root.path, home);
    const described = root.description ? ` "${root.description}"` : '';
    if (!expanded.ok) {
      add(comment(`${root.path}${described}: not an absolute or ~/ path; left out.`));
      warnings.push(`${allowlist.shown}: the allowed root "${visible(root.path)}" is not an absolute or ~/ path; left out.`);
      continue;
    }
    const blocked = list.blockedPatterns.find((p) => expanded.path.includes(p));
    const path = policyPath(expanded.path, home);
    const n = name(policyName(expanded.path.split('/').pop() ?? '') || 'extra');
    let mode: 'ro' | 'rw' = root.allowReadWrite ? 'rw' : 'ro';
    add(comment(`${root.path}${described}: ${root.allowReadWrite ? 'read-write' : 'read-only'} in NanoClaw.`));
    if (mode === 'rw' && list.nonMainReadOnly) {
      // NanoClaw gave write access only to the main group; the one VM serves every group.
      mode = 'ro';
      add(comment('  Writable there for the main group only (nonMainReadOnly); one VM serves every group, so'));
      add(comment('  it is read-only here. Make it rw only if every chat may change it.'));
    }
    if (blocked !== undefined || path === undefined) {
      const why = blocked !== undefined ? `it matches the allowlist's own blocked pattern "${blocked}"` : 'its path holds a control character';
      add(comment(`  Left out: ${why}.`));
      warnings.push(`${allowlist.shown}: the allowed root "${visible(root.path)}" is left out: ${visible(why)}.`);
      continue;
    }
    add(`mount ${n} ${path} ${mode}`, true);
  }
  add('');
}

// The same listener and target found twice (a script and its copy): one bridge.
function uniqueBridges(found: readonly FoundBridge[]): FoundBridge[] {
  const seen = new Set<string>();
  return found.filter((b) => {
    const key = `${b.listen} ${b.host} ${b.port}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// Whether a bind= value meant the VM's address: a variable naming the VM, or a VM-subnet host.
function bindsVm(bind: string): boolean {
  return /\$\{?[A-Za-z_]*VM[A-Za-z_]*/i.test(bind) || (/^192\.168\.64\.\d+$/.test(bind) && bind !== DEFAULT_GATEWAY);
}

// What changes about the old line, said once under it.
function bindNotes(b: FoundBridge): string[] {
  if (b.bind === undefined) return ['It listened on every host address (the LAN too); the bridge now binds the gateway only.'];
  if (bindsVm(b.bind)) return [`It bound the VM's address (${b.bind}): a host listener cannot bind an address the VM holds,`, 'so that line never worked in a VM; the bridge now binds the gateway and accepts only the VM.'];
  if (b.bind === DEFAULT_GATEWAY) return [];
  return [`It bound ${b.bind}; the bridge now binds the gateway, where the VM reaches it.`];
}

function freePort(used: Set<number>): number {
  let p = FIRST_FREE_PORT;
  while (used.has(p)) p++;
  return p;
}

