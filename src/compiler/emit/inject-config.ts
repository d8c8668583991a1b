// The proxy config's `inject` section for a policy (its shape: formats/inject-config.ts): where
// each secret is read, what each injecting rule adds, the CA's directory and name constraints.

import type { Policy } from '../policy.ts';
import type { TemplatePart } from '../../formats/header-template.ts';
import type { InjectConfig } from '../../formats/inject-config.ts';
import { injectedCaNames } from './ca-names.ts';

// The section for a policy, or undefined when it injects nothing.
export function buildInjectConfig(policy: Pick<Policy, 'egress' | 'secrets'>, caDir: string): InjectConfig | undefined {
  const rules = policy.egress.filter((r) => r.inject || r.websocketToken !== undefined);
  if (rules.length === 0) return undefined;
  return {
    caDir,
    caNames: injectedCaNames(policy),
    secrets: policy.secrets.map((s) => ({ name: s.name, source: s.source.kind === 'command' ? { kind: 'command', argv: [...s.source.argv] } : { ...s.source } })),
    rules: rules.map((r) => ({
      name: r.name,
      headers: (r.inject ?? []).map((i) => ({ header: i.header, template: writeTemplate(i.template) })),
      ...(r.websocketToken !== undefined ? { websocketToken: r.websocketToken } : {}),
    })),
  };
}

// A template as the policy wrote it ("Bot {discord}").
function writeTemplate(parts: readonly TemplatePart[]): string {
  return parts.map((p) => ('text' in p ? p.text : `{${p.secret}}`)).join('');
}

