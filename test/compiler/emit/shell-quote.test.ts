import { execFileSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { shellJoin, shellQuote } from '../../../src/compiler/emit/shell-quote.ts';

const quote = suite('shell-quote');

quote('plain words stay as they are', () => {
  assert.is(shellQuote('--dir=data:/Users/a/data:ro'), '--dir=data:/Users/a/data:ro');
});

quote('spaces, quotes and $ are single-quoted', () => {
  assert.is(shellQuote('a b'), "'a b'");
  assert.is(shellQuote("o'neil"), "'o'\\''neil'");
  assert.is(shellQuote('$HOME'), "'$HOME'");
  assert.is(shellQuote(''), "''");
});

quote('sh reads back exactly the words that went in', () => {
  const words = ["/Users/o'neil/My Files/$HOME stuff", 'a"b', '`id`', '\\n', 'tab\there', '*', '', 'new\nline', '~x'];
  const out = execFileSync('sh', ['-c', `printf '%s\\0' ${shellJoin(words)}`]).toString('utf8');
  assert.equal(out.split('\0').slice(0, -1), words);
});

quote.run();
