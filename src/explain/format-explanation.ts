// An explanation for a person: the answer, then each route with its layers in order.

import type { Explanation } from './layer.ts';

export function formatExplanation(e: Explanation, policyFile: string): string {
  const out = [e.summary, ''];
  for (const r of e.routes) {
    out.push(`${r.name === 'direct' ? `Directly, to ${r.as}` : r.name.startsWith('bridge ') ? `Through the ${r.name.replace(' ', ' "')}", as ${r.as}` : r.name === 'egress proxy' ? `Through the egress proxy, as ${r.as}` : `Through the ${r.name}`}: ${r.reaches ? 'reaches it' : 'does not'}`);
    r.layers.forEach((l, i) => {
      out.push(`  ${i + 1}. ${l.layer.padEnd(8)}${l.verdict === 'pass' ? 'passes' : 'blocks'}  ${l.reason}`);
      if (l.policyLine !== undefined) out.push(`     ${''.padEnd(8)}        policy  ${policyFile}:${l.policyLine}`);
      if (l.artifactLine) out.push(`     ${''.padEnd(8)}        ${l.artifactLine.artifact}:${l.artifactLine.line}  ${l.artifactLine.text}`);
    });
    out.push('');
  }
  for (const n of e.notes) out.push(`note: ${n}`);
  return `${out.join('\n').trimEnd()}\n`;
}
