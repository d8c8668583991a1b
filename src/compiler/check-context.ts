// What every check pass reads: the syntax tree and the few host facts meaning depends on.

import type { AllowStatement, EgressStatement, MountStatement, OptionNode, PolicyAst, Statement } from '../grammar/ast.ts';

export interface CheckContext {
  ast: PolicyAst;
  /** Home folder of the host user who compiles: "~" in mount paths means this. */
  home: string;
  /** Absolute path of the policy file: it must not lie in a folder the VM can write. */
  policyPath: string;
  /** Absolute output directory of `compile -o`, when there is one: the same rule holds. */
  outputDir?: string;
  /** Where a path really leads (symlinks resolved): the cage checks compare both forms. */
  realPath: import('./paths/real-path.ts').RealPath;
}

/** A check pass: reports problems, never changes anything. */
export type CheckPass = (ctx: CheckContext) => import('./diagnostic.ts').Diagnostic[];

export function statementsOf<K extends Statement['kind']>(ast: PolicyAst, kind: K): Array<Extract<Statement, { kind: K }>> {
  return ast.statements.filter((s): s is Extract<Statement, { kind: K }> => s.kind === kind);
}

export function findOption(statement: { options: OptionNode[] }, key: string): OptionNode | undefined {
  return statement.options.find((o) => o.key.value === key);
}

export function bridges(ast: PolicyAst): AllowStatement[] {
  return statementsOf(ast, 'allow');
}

export function mounts(ast: PolicyAst): MountStatement[] {
  return statementsOf(ast, 'mount');
}

export function egressRules(ast: PolicyAst): EgressStatement[] {
  return statementsOf(ast, 'egress');
}
