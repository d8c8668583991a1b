// The `inject` section of the proxy's configuration: which secrets to read (where, never their
// values), what each injecting rule adds, and where the CA lives. The compiler builds it from the
// policy (compiler/emit/inject-config.ts); the proxy parses and validates it here, so it never
// meets a value it did not expect.

import { isAbsolute } from 'node:path';
import type { SecretSource } from './secret-source.ts';
import { parseTemplate } from './header-template.ts';
import { FRAMING_HEADERS, isHeaderName } from './header-name.ts';

export interface InjectConfig {
  /** Absolute: the state directory holding proxy-ca-key.pem (0600) and proxy-ca.pem. */
  caDir: string;
  /** The CA's name constraints: the injected names (wildcards as their domain), sorted. */
  caNames: string[];
  secrets: Array<{ name: string; source: SecretSource }>;
  /** By egress rule name. */
  rules: Array<{ name: string; headers: Array<{ header: string; template: string }>; websocketToken?: string }>;
}

// Validates the section's JSON value; throws naming the first problem.
export function parseInjectConfig(value: unknown): InjectConfig {
  const o = object(value, 'inject');
  only(o, ['caDir', 'caNames', 'secrets', 'rules'], 'inject');
  const caDir = string(o.caDir, 'inject.caDir');
  if (!isAbsolute(caDir)) fail(`"inject.caDir" must be an absolute path, not "${caDir}"`);
  const caNames = array(o.caNames, 'inject.caNames').map((n, i) => string(n, `inject.caNames[${i}]`));
  const secretNames = new Set<string>();
  const secrets = array(o.secrets, 'inject.secrets').map((raw, i) => {
    const where = `inject.secrets[${i}]`;
    const s = object(raw, where);
    only(s, ['name', 'source'], where);
    const name = string(s.name, `${where}.name`);
    if (!/^[a-z][a-z0-9-]*$/.test(name) || secretNames.has(name)) fail(`"${where}.name" must be a new secret name, not "${name}"`);
    secretNames.add(name);
    return { name, source: sourceOf(s.source, `${where}.source`) };
  });
  const rules = array(o.rules, 'inject.rules').map((raw, i) => {
    const where = `inject.rules[${i}]`;
    const r = object(raw, where);
    only(r, ['name', 'headers', 'websocketToken'], where);
    const headers = array(r.headers, `${where}.headers`).map((h, j) => {
      const at = `${where}.headers[${j}]`;
      const x = object(h, at);
      only(x, ['header', 'template'], at);
      const header = string(x.header, `${at}.header`);
      if (!isHeaderName(header) || header !== header.toLowerCase() || FRAMING_HEADERS.has(header)) fail(`"${at}.header" "${header}" is not a header the proxy may set`);
      const template = string(x.template, `${at}.template`);
      const parsed = parseTemplate(template);
      if (!parsed.ok || parsed.parts.every((p) => 'text' in p)) fail(`"${at}.template" names no secret or is malformed`);
      for (const p of parsed.parts) if ('secret' in p && !secretNames.has(p.secret)) fail(`"${at}.template" names the unknown secret "${p.secret}"`);
      if (/[\r\n\0]/.test(template)) fail(`"${at}.template" holds a line break`);
      return { header, template };
    });
    const token = r.websocketToken === undefined ? undefined : string(r.websocketToken, `${where}.websocketToken`);
    if (token !== undefined && !secretNames.has(token)) fail(`"${where}.websocketToken" names the unknown secret "${token}"`);
    return { name: string(r.name, `${where}.name`), headers, ...(token !== undefined ? { websocketToken: token } : {}) };
  });
  return { caDir, caNames, secrets, rules };
}

function sourceOf(value: unknown, where: string): SecretSource {
  const s = object(value, where);
  const kind = string(s.kind, `${where}.kind`);
  if (kind === 'keychain') {
    only(s, ['kind', 'service'], where);
    return { kind, service: string(s.service, `${where}.service`) };
  }
  if (kind === 'command') {
    only(s, ['kind', 'argv'], where);
    const argv = array(s.argv, `${where}.argv`).map((a, i) => string(a, `${where}.argv[${i}]`));
    if (argv.length === 0) fail(`"${where}.argv" must name a program`);
    return { kind, argv };
  }
  if (kind === 'file') {
    only(s, ['kind', 'path'], where);
    const path = string(s.path, `${where}.path`);
    if (!isAbsolute(path)) fail(`"${where}.path" must be absolute`);
    return { kind, path };
  }
  return fail(`"${where}.kind" must be keychain, command or file, not "${kind}"`);
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`"${where}" must be an object`);
  return value as Record<string, unknown>;
}
function array(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) fail(`"${where}" must be an array`);
  return value as unknown[];
}
function string(value: unknown, where: string): string {
  if (typeof value !== 'string') fail(`"${where}" must be a string`);
  return value as string;
}
function only(o: Record<string, unknown>, keys: readonly string[], where: string): void {
  for (const key of Object.keys(o)) if (!keys.includes(key)) fail(`unknown key "${where}.${key}"`);
}
function fail(message: string): never {
  throw new Error(`proxy config: ${message}`);
}
