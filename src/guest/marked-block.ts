// One block of lines that nanopolicy owns inside a file it shares with the owner (/etc/hosts,
// ~/.zprofile), between two marker lines: installing replaces that block and never appends a
// second, and everything outside it stays byte for byte as it was.

export interface BlockMarkers {
  begin: string;
  end: string;
}

// The marker lines for a block named `id` (e.g. "nanopolicy nanoclaw-vm"), as `#` comments.
export function blockMarkers(id: string): BlockMarkers {
  return {
    begin: `# >>> ${id} (written by "nanopolicy guest install"; do not edit inside) >>>`,
    end: `# <<< ${id} <<<`,
  };
}

export type BlockEdit = { ok: true; text: string; changed: boolean } | { ok: false; problem: string };

// The text with exactly one block holding `lines`: in place of the first existing block (a later
// duplicate, from an append done twice by hand, is removed), else at the end. A begin marker
// without its end, or an end without a begin, is refused: guessing where the owner's text starts
// again could delete it.
export function replaceMarkedBlock(text: string, markers: BlockMarkers, lines: readonly string[]): BlockEdit {
  const found = findBlocks(text, markers);
  if (!found.ok) return found;
  const all = splitLines(text);
  const block = [markers.begin, ...lines, markers.end];
  const out: string[] = [];
  let inserted = false;
  let i = 0;
  for (const b of found.blocks) {
    out.push(...all.slice(i, b.start));
    if (!inserted) out.push(...block);
    inserted = true;
    i = b.end + 1;
  }
  out.push(...all.slice(i));
  if (!inserted) out.push(...block);
  const result = `${out.join('\n')}\n`;
  return { ok: true, text: result, changed: result !== text };
}

// The lines of the block, undefined when there is none, or a problem when the markers are broken.
export function readMarkedBlock(text: string, markers: BlockMarkers): { ok: true; lines?: string[]; count: number } | { ok: false; problem: string } {
  const found = findBlocks(text, markers);
  if (!found.ok) return found;
  const first = found.blocks[0];
  if (first === undefined) return { ok: true, count: 0 };
  return { ok: true, lines: splitLines(text).slice(first.start + 1, first.end), count: found.blocks.length };
}

function findBlocks(text: string, markers: BlockMarkers): { ok: true; blocks: Array<{ start: number; end: number }> } | { ok: false; problem: string } {
  const lines = splitLines(text);
  const blocks: Array<{ start: number; end: number }> = [];
  let open: number | undefined;
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.replace(/\r$/, '');
    if (line === markers.begin) {
      if (open !== undefined) return { ok: false, problem: `line ${open + 1} opens a nanopolicy block that line ${n + 1} opens again before it ends` };
      open = n;
    } else if (line === markers.end) {
      if (open === undefined) return { ok: false, problem: `line ${n + 1} ends a nanopolicy block that was never opened` };
      blocks.push({ start: open, end: n });
      open = undefined;
    }
  }
  if (open !== undefined) return { ok: false, problem: `line ${open + 1} opens a nanopolicy block that never ends` };
  return { ok: true, blocks };
}

// Lines without their final newline; an empty text has none.
function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}
