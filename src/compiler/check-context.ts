// What every check pass reads: the syntax tree and the few host facts meaning depends on.

import type { AllowStatement, EgressStatement, MountStatement, OptionNode, PolicyAst, SecretStatement, Statement } from '../grammar/ast.ts';

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
  /** Who owns a secret file and who may read it; absent: not checked here (enforce checks again). */
  fileFacts?: import('./paths/file-facts.ts').FileFacts;
}

/** A check pass: reports problems, never changes anything. */
export type CheckPass = (ctx: CheckContext) => import('../diagnostics/diagnostic.ts').Diagnostic[];

// Every pass asks for the statements of a kind; each list is made once per tree (issue 9: ten
// passes filtering 10,000 statements each), and frozen, since all of them share it.
const byKind = new WeakMap<PolicyAst, Map<Statement['kind'], readonly Statement[]>>();

export function statementsOf<K extends Statement['kind']>(ast: PolicyAst, kind: K): ReadonlyArray<Extract<Statement, { kind: K }>> {
  let kinds = byKind.get(ast);
  if (kinds === undefined) byKind.set(ast, (kinds = new Map()));
  let list = kinds.get(kind);
  if (list === undefined) kinds.set(kind, (list = Object.freeze(ast.statements.filter((s) => s.kind === kind))));
  return list as ReadonlyArray<Extract<Statement, { kind: K }>>;
}

export function findOption(statement: { options: readonly OptionNode[] }, key: string): OptionNode | undefined {
  // An indexed loop, not find() or for-of: no closure and no iterator made per statement and key.
  // Without the optimising compiler (v8-tuning.ts), for-of allocates a result for every step
  // (issue 9).
  const { options } = statement;
  for (let i = 0; i < options.length; i++) if (options[i]!.key.value === key) return options[i];
  return undefined;
}

export function bridges(ast: PolicyAst): readonly AllowStatement[] {
  return statementsOf(ast, 'allow');
}

export function mounts(ast: PolicyAst): readonly MountStatement[] {
  return statementsOf(ast, 'mount');
}

export function egressRules(ast: PolicyAst): readonly EgressStatement[] {
  return statementsOf(ast, 'egress');
}

export function secrets(ast: PolicyAst): readonly SecretStatement[] {
  return statementsOf(ast, 'secret');
}
