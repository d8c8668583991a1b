// Reading an nft table back (`nft -j list table`) and checking it is the one we meant: the same
// chains, each with the same hook and the same number of rules as the ruleset we loaded. nft prints
// rules in its own canonical form, so rule text is not compared; a rule lost, added or a chain
// unhooked is caught.

export interface ChainShape {
  hook?: string;
  rules: number;
}

// Chains and their rule counts from the ruleset text we load (only the table named `table`).
export function expectedChains(ruleset: string, table: string): Map<string, ChainShape> {
  const chains = new Map<string, ChainShape>();
  let inTable = false;
  let chain: string | undefined;
  for (const raw of ruleset.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const t = /^table\s+inet\s+(\S+)\s*\{\s*(\})?$/.exec(line);
    if (t) {
      inTable = t[1] === table && t[2] === undefined;
      continue;
    }
    if (!inTable) continue;
    const c = /^chain\s+(\S+)\s*\{$/.exec(line);
    if (c) {
      chain = c[1]!;
      chains.set(chain, { rules: 0 });
      continue;
    }
    if (line === '}') {
      if (chain === undefined) inTable = false;
      chain = undefined;
      continue;
    }
    if (chain === undefined) continue;
    const shape = chains.get(chain)!;
    const hook = /^type\s+\S+\s+hook\s+(\S+)/.exec(line);
    if (hook) shape.hook = hook[1]!;
    else shape.rules++;
  }
  return chains;
}

interface NftJsonItem {
  chain?: { name: string; table: string; hook?: string };
  rule?: { chain: string; table: string };
}

// Chains and rule counts from `nft -j list table inet <table>`.
export function loadedChains(json: string, table: string): Map<string, ChainShape> | undefined {
  let items: NftJsonItem[];
  try {
    items = (JSON.parse(json) as { nftables?: NftJsonItem[] }).nftables ?? [];
  } catch {
    return undefined;
  }
  const chains = new Map<string, ChainShape>();
  for (const item of items) {
    if (item.chain && item.chain.table === table) chains.set(item.chain.name, { ...(item.chain.hook ? { hook: item.chain.hook } : {}), rules: 0 });
  }
  for (const item of items) {
    if (item.rule && item.rule.table === table) {
      const c = chains.get(item.rule.chain);
      if (c) c.rules++;
    }
  }
  return chains;
}

// Why the loaded table differs from the meant one, or undefined when it matches.
export function tableProblem(ruleset: string, table: string, json: string): string | undefined {
  const want = expectedChains(ruleset, table);
  const have = loadedChains(json, table);
  if (have === undefined) return 'nft printed something that is not JSON';
  if (want.size === 0) return 'the ruleset defines no chains';
  const problems: string[] = [];
  for (const [name, shape] of want) {
    const got = have.get(name);
    if (got === undefined) problems.push(`chain "${name}" is missing`);
    else if (got.hook !== shape.hook) problems.push(`chain "${name}" hooks "${got.hook ?? 'nothing'}", not "${shape.hook ?? 'nothing'}"`);
    else if (got.rules !== shape.rules) problems.push(`chain "${name}" has ${got.rules} rules, not ${shape.rules}`);
  }
  for (const name of have.keys()) if (!want.has(name)) problems.push(`unexpected chain "${name}"`);
  return problems.length ? problems.join('; ') : undefined;
}
