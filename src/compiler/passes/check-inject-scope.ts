// A line that adds a secret reaches one service: a wildcard on it lies below a domain someone
// registered (never a suffix where anyone may publish a name), and its names share that domain.
// (Why: every name on the line gets the credential, and a name someone else controls would
// receive it.)

import { errorAt, warningAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { egressRules, type CheckContext } from '../check-context.ts';
import { parsedEgressHosts } from '../net/egress-host.ts';
import { publicSuffixKind, registrableDomain } from '../../net/public-suffix.ts';

export function checkInjectScope({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const rules = egressRules(ast);
  const parsed = parsedEgressHosts(ast);
  for (let r = 0; r < rules.length; r++) {
    const rule = rules[r]!;
    if (rule.injections.length === 0) continue;
    const domains = new Map<string, number>();
    for (let h = 0; h < rule.hosts.length; h++) {
      const host = parsed[r]![h]!;
      if (!host.ok) continue;
      const written = rule.hosts[h]!;
      const bare = host.wildcard ? host.host.slice(2) : host.host;
      if (host.wildcard && publicSuffixKind(bare) !== undefined) {
        // An ICANN suffix is NP260 already; a private one is only a warning without injection.
        if (publicSuffixKind(bare) === 'private') {
          out.push(errorAt(ast.file, written.span, {
            code: 'NP297',
            message: `The wildcard "${host.host}" covers names anyone may publish under "${bare}"; each of them would receive the secret.`,
            hint: 'Inject only on the exact names of the service, as in "api.example.com".',
          }));
        }
        continue;
      }
      const domain = registrableDomain(bare);
      if (domain !== undefined && !domains.has(domain)) domains.set(domain, h);
    }
    if (domains.size > 1) {
      const [first, second] = [...domains.keys()];
      out.push(warningAt(ast.file, rule.name.span, {
        code: 'NP297',
        message: `The egress rule "${rule.name.value}" adds a secret to names of more than one domain ("${first}", "${second}").`,
        hint: 'Give each service its own egress line, and inject on the line of the service the secret belongs to.',
      }));
    }
  }
  return out;
}
