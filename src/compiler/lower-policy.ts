// Turns a checked syntax tree into the frozen Policy model. Runs only after every check passed,
// so anything it cannot lower is a bug, not a user error.

import type { PolicyAst, Span } from '../grammar/ast.ts';
import { bridges, egressRules, findOption, mounts, secrets, statementsOf } from './check-context.ts';
import { effectiveNetwork } from './effective-network.ts';
import { classifyTarget } from './net/classify-target.ts';
import { parsedEgressHosts } from './net/egress-host.ts';
import { formatCidr, formatIpv4 } from '../net/ipv4.ts';
import { expandHome } from './paths/expand-home.ts';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_PROXY_MAX_CONNECTIONS, DEFAULT_PROXY_PORT, type Bridge, type EgressRule, type HeaderInjection, type Mount, type Owner, type Policy, type PolicySource, type Secret, type SecretSource } from './policy.ts';
import { parseTemplate } from '../formats/header-template.ts';
import { placeholderFor } from './secrets/placeholder.ts';
import { splitCommand } from './secrets/split-command.ts';

export function lowerPolicy(ast: PolicyAst, source: PolicySource, owner: Owner): Policy {
  const home = owner.home;
  const network = effectiveNetwork(ast);
  const vm = statementsOf(ast, 'vm')[0];
  if (!network || !vm) throw new Error('lowerPolicy called on a policy that did not pass its checks');

  const loweredBridges = bridges(ast).map((statement): Bridge => {
    const target = classifyTarget(statement.target);
    if (!target.ok) throw new Error(`unchecked target on line ${statement.span.line}`);
    const pin = findOption(statement, 'pin')?.value?.value;
    return Object.freeze({
      name: statement.name.value,
      target: Object.freeze({ kind: target.kind, host: target.host, port: Number(statement.target.port.value) }),
      listen: Number(statement.port.value),
      tls: findOption(statement, 'tls') !== undefined,
      maxConnections: Number(findOption(statement, 'max-conn')?.value?.value ?? DEFAULT_MAX_CONNECTIONS),
      ...(pin ? { pin } : {}),
      span: spanOf(statement),
    });
  });

  const loweredMounts = mounts(ast).map((statement): Mount => {
    const expanded = expandHome(statement.path.value, home);
    if (!expanded.ok) throw new Error(`unchecked mount path on line ${statement.span.line}`);
    return Object.freeze({
      name: statement.name.value,
      path: expanded.path,
      written: statement.path.value,
      mode: statement.mode.value,
      allowSensitive: findOption(statement, 'allow-sensitive') !== undefined,
      span: spanOf(statement),
    });
  });

  const parsedHosts = parsedEgressHosts(ast);
  const loweredEgress = egressRules(ast).map((statement, r): EgressRule => {
    const hosts = statement.hosts.map((_, h) => {
      const parsed = parsedHosts[r]![h]!;
      if (!parsed.ok) throw new Error(`unchecked egress host on line ${statement.span.line}`);
      return Object.freeze({ host: parsed.host, wildcard: parsed.wildcard, port: parsed.port });
    });
    const inject: HeaderInjection[] = [];
    let websocketToken: string | undefined;
    for (const injection of statement.injections) {
      const parsed = parseTemplate(injection.template.value);
      if (!parsed.ok) throw new Error(`unchecked template on line ${statement.span.line}`);
      if (injection.header) inject.push(Object.freeze({ header: injection.header.value.toLowerCase(), template: Object.freeze(parsed.parts.map((p) => Object.freeze(p))) }));
      else websocketToken = (parsed.parts[0] as { secret: string }).secret;
    }
    return Object.freeze({
      name: statement.name.value,
      hosts: Object.freeze(hosts),
      // Only on lines that inject, so a policy without secrets lowers (and emits) as before.
      ...(inject.length > 0 ? { inject: Object.freeze(inject) } : {}),
      ...(websocketToken !== undefined ? { websocketToken } : {}),
      span: spanOf(statement),
    });
  });
  const loweredSecrets = secrets(ast).map((statement): Secret => {
    const env = findOption(statement, 'env')?.value?.value;
    return Object.freeze({
      name: statement.name.value,
      source: secretSource(statement.source.value, statement.value.value, home, statement.span.line),
      ...(env !== undefined ? { env } : {}),
      placeholder: placeholderFor(statement.name.value),
      span: spanOf(statement),
    });
  });
  const proxyLine = statementsOf(ast, 'proxy')[0];
  const proxy =
    loweredEgress.length === 0
      ? undefined
      : Object.freeze({
          listen: Number(proxyLine?.port.value ?? DEFAULT_PROXY_PORT),
          maxConnections: Number((proxyLine && findOption(proxyLine, 'max-conn')?.value?.value) ?? DEFAULT_PROXY_MAX_CONNECTIONS),
        });
  const snapshot = statementsOf(ast, 'snapshot')[0];

  return Object.freeze({
    // A copy that keeps accessors (compile.ts hashes the policy on first read).
    source: Object.freeze(Object.defineProperties({}, Object.getOwnPropertyDescriptors(source)) as PolicySource),
    owner: Object.freeze({ ...owner }),
    vm: vm.name.value,
    network: Object.freeze({
      mode: 'softnet' as const,
      subnetAddress: formatIpv4(network.subnet.network),
      prefix: network.subnet.prefix,
      subnet: formatCidr(network.subnet),
      gateway: formatIpv4(network.gateway),
    }),
    bridges: Object.freeze(loweredBridges),
    mounts: Object.freeze(loweredMounts),
    ...(proxy ? { proxy } : {}),
    egress: Object.freeze(loweredEgress),
    secrets: Object.freeze(loweredSecrets),
    ...(snapshot ? { snapshots: Object.freeze({ keep: Number(snapshot.count.value), span: spanOf(snapshot) }) } : {}),
  });
}

// Where a checked secret line reads its value.
function secretSource(kind: 'keychain' | 'command' | 'file', value: string, home: string, line: number): SecretSource {
  if (kind === 'keychain') return Object.freeze({ kind, service: value });
  if (kind === 'command') {
    const split = splitCommand(value);
    if (!split.ok) throw new Error(`unchecked command on line ${line}`);
    return Object.freeze({ kind, argv: Object.freeze(split.argv) });
  }
  const expanded = expandHome(value, home);
  if (!expanded.ok) throw new Error(`unchecked secret path on line ${line}`);
  return Object.freeze({ kind, path: expanded.path });
}

// A statement is its own span (policy.peggy): the policy keeps a copy of the place alone, not the
// statement with it.
function spanOf({ span }: { span: Span }): Span {
  return Object.freeze({ line: span.line, column: span.column, endColumn: span.endColumn });
}
