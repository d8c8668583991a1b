// What the proxy adds for one egress rule, with the secrets' values filled in: built once when the
// proxy starts (and again when a source changes), held in memory only.

import type { EgressRule, Secret } from '../compiler/policy.ts';
import { fillTemplate, templateSecrets } from '../formats/header-template.ts';
import { secretNeedles } from './http/secret-scrubber.ts';

export interface InjectionPlan {
  rule: string;
  /** Lowercase header name and its value with the secret in it. */
  headers: ReadonlyArray<readonly [string, string]>;
  /** The token for IDENTIFY/RESUME, when the rule has `websocket-token`. */
  websocketToken?: string;
  /** The secrets this rule uses, by name (for the audit record; never their values). */
  secrets: readonly string[];
}

// The plan for a rule, or undefined when it injects nothing. Every secret it names must have a value.
export function injectionPlan(rule: Pick<EgressRule, 'name' | 'inject' | 'websocketToken'>, values: ReadonlyMap<string, string>): InjectionPlan | undefined {
  if (!rule.inject && rule.websocketToken === undefined) return undefined;
  const headers = (rule.inject ?? []).map(({ header, template }) => [header, fillTemplate(template, values)] as const);
  const names = new Set((rule.inject ?? []).flatMap(({ template }) => templateSecrets(template)));
  let websocketToken: string | undefined;
  if (rule.websocketToken !== undefined) {
    websocketToken = values.get(rule.websocketToken);
    if (websocketToken === undefined) throw new Error(`no value for the secret "${rule.websocketToken}"`);
    names.add(rule.websocketToken);
  }
  return { rule: rule.name, headers, ...(websocketToken !== undefined ? { websocketToken } : {}), secrets: [...names].sort() };
}

// Every form of every secret, for masking what the VM receives (all of them on every injected
// tunnel: an upstream could reflect any secret it was ever sent).
export function allSecretNeedles(secrets: ReadonlyArray<Pick<Secret, 'name'>>, values: ReadonlyMap<string, string>): Buffer[] {
  return secretNeedles(secrets.flatMap((s) => (values.has(s.name) ? [values.get(s.name)!] : [])));
}
