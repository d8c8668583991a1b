// Splits a shell script into simple commands of words, the way sh would read them before it
// expands anything: quotes removed, backslash-newline joined, comments dropped, `$VAR` kept as
// text. Enough to find socat lines in an install's scripts; nothing here runs or evaluates a word.

export interface ShellCommand {
  /** 1-based line of the command's first word. */
  line: number;
  words: string[];
}

export interface SplitScript {
  commands: ShellCommand[];
  /** A quote left open: the text after it is not read as commands (sh would refuse the file). */
  unterminatedQuoteLine?: number;
}

const SEPARATORS = new Set([';', '&', '|', '(', ')']);

// Reads `text` into commands; never throws, whatever the bytes.
export function splitShellCommands(text: string): SplitScript {
  const commands: ShellCommand[] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  let line = 1;
  let commandLine = 1;
  let i = 0;
  const endWord = () => {
    if (inWord) {
      if (words.length === 0) commandLine = wordLine;
      words.push(word);
    }
    word = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length > 0) commands.push({ line: commandLine, words });
    words = [];
  };
  let wordLine = 1;
  const startWord = () => {
    if (!inWord) {
      inWord = true;
      wordLine = line;
    }
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\') {
      const next = text[i + 1];
      if (next === '\n') {
        line++;
        i += 2;
        continue;
      }
      startWord();
      if (next !== undefined) word += next;
      i += 2;
      continue;
    }
    if (c === "'") {
      startWord();
      const close = text.indexOf("'", i + 1);
      if (close < 0) return { commands, unterminatedQuoteLine: line };
      const quoted = text.slice(i + 1, close);
      word += quoted;
      line += count(quoted, '\n');
      i = close + 1;
      continue;
    }
    if (c === '"') {
      startWord();
      const start = line;
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        const d = text[j]!;
        if (d === '\\' && j + 1 < text.length && '"\\$`\n'.includes(text[j + 1]!)) {
          if (text[j + 1] === '\n') line++;
          else word += text[j + 1];
          j++;
          continue;
        }
        if (d === '\n') line++;
        word += d;
      }
      if (j >= text.length) return { commands, unterminatedQuoteLine: start };
      i = j + 1;
      continue;
    }
    if (c === '#' && !inWord) {
      // A comment runs to the end of the line: commented-out socat lines are not bridges.
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl;
      continue;
    }
    if (c === '\n') {
      endCommand();
      line++;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      endWord();
      i++;
      continue;
    }
    if (SEPARATORS.has(c)) {
      endCommand();
      i++;
      continue;
    }
    startWord();
    word += c;
    i++;
  }
  endCommand();
  return { commands };
}

function count(text: string, ch: string): number {
  let n = 0;
  for (const c of text) if (c === ch) n++;
  return n;
}
