// The .env keys init knows how to move out of the VM: each becomes a `secret … from keychain` line
// and an injection on the one service it belongs to (docs/credential-injection.md, domain.md §10).
// Only key names are matched here; init never reads a value.

export interface KnownSecret {
  /** The secret's policy name; its keychain item is `nanoclaw-<name>`. */
  secret: string;
  /** The .env key that held it (the variable the tool in the VM reads, now the placeholder). */
  envKey: string;
  service: 'anthropic' | 'claude-oauth' | 'discord' | 'github';
}

// Each service's keys, in the order they win when a .env holds more than one (the first is taken).
// Sources: Anthropic's API reference (x-api-key), Claude Code's `claude setup-token`
// (CLAUDE_CODE_OAUTH_TOKEN, sent as Authorization: Bearer), Discord's API reference
// (Authorization: Bot TOKEN; the gateway's IDENTIFY carries the token), GitHub's REST docs
// ("Authenticating to the REST API": Authorization: Bearer TOKEN).
const KEYS: ReadonlyArray<{ service: KnownSecret['service']; secret: string; keys: readonly string[] }> = [
  { service: 'anthropic', secret: 'anthropic', keys: ['ANTHROPIC_API_KEY'] },
  { service: 'claude-oauth', secret: 'claude-oauth', keys: ['CLAUDE_CODE_OAUTH_TOKEN'] },
  { service: 'discord', secret: 'discord', keys: ['DISCORD_TOKEN', 'DISCORD_BOT_TOKEN'] },
  { service: 'github', secret: 'github', keys: ['GITHUB_TOKEN', 'GH_TOKEN'] },
];

// The known secrets among `envKeys` (key names only), one per service.
export function knownSecrets(envKeys: readonly string[]): KnownSecret[] {
  const present = new Set(envKeys);
  const found: KnownSecret[] = [];
  for (const k of KEYS) {
    const key = k.keys.find((name) => present.has(name));
    if (key !== undefined) found.push({ secret: k.secret, envKey: key, service: k.service });
  }
  return found;
}

// The keychain item a known secret is kept in.
export function keychainService(secret: string): string {
  return `nanoclaw-${secret}`;
}
