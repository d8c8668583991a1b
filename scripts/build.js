// Builds nanopolicy: the peggy grammar into its parser, then one bundle for the CLI, one
// self-contained bundle for the probe that `verify` sends into the VM, and one for the egress
// proxy that `enforce` runs on the host (the probe Node built-ins only; the proxy also bundles
// dns-packet).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import peggy from 'peggy';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const grammarFile = join(root, 'src/grammar/policy.peggy');
const outDir = join(root, 'src/grammar/generated');

const source = peggy.generate(readFileSync(grammarFile, 'utf8'), {
  output: 'source',
  format: 'es',
  grammarSource: 'src/grammar/policy.peggy',
  allowedStartRules: ['Line', 'Lines'],
});
// One change to peggy's output: the whitespace rule `_` (used between every two tokens, its value
// never used) collects the blanks it skips into a new array each time, 40% of what parsing a
// policy allocates, and the garbage collector's time with it (issue 9). The patched function
// returns one shared empty array instead. The build stops if the grammar ever labels `_` (so uses
// its value) or peggy's output for it changes shape.
if (/\w+\s*:\s*_(?![\w])/.test(readFileSync(grammarFile, 'utf8'))) throw new Error('policy.peggy uses the value of `_`: drop the whitespace patch in scripts/build.js');
const WHITESPACE = /(function peg\$parse_\(\) \{\n\s*let s0, s1;\n\n\s*)s0 = \[\];((?:(?!\n  function )[\s\S])*?)\n(\s*)s0\.push\(s1\);\n/;
if (!WHITESPACE.test(source)) throw new Error("peggy's output for the rule `_` changed shape: update the whitespace patch in scripts/build.js");
const whitespaceDone = source.replace(WHITESPACE, '$1s0 = peg$noValue;$2\n').replace('function peg$parse_() {', 'const peg$noValue = Object.freeze([]);\n\n  function peg$parse_() {');
// The same for the text operator `$`: peggy collects the characters of `$[a-z]+` into an array only
// to see whether there was one, then takes the text from the input. Each such array (found where
// the array's only uses are the push, "failed" and the test before `input.substring`) becomes the
// shared empty one; an array whose value anything else reads is left alone. Names and paths are
// most of a policy's characters (issue 9).
// (The text between may not start another array in the same variable: that one is tried on its own.)
const TEXT_OF = /(\n[ \t]*)(s\d+) = \[\];((?:(?!\n  function |\n[ \t]*\2 = \[\];)[\s\S])*?)(\n[ \t]*if \(\2 !== peg\$FAILED\) \{\n[ \t]*(s\d+) = input\.substring\(\5, peg\$currPos\);)/g;
// Whether the only uses of `array` in `middle` are its pushes (and, where given, `array = peg$FAILED;`),
// and `middle` without the pushes: the shared empty array stands in for one whose value no one reads.
function onlyPushed(array, middle, alsoAllowed) {
  const uses = middle.match(new RegExp(`\\b${array}\\b[^\\n]*`, 'g')) ?? [];
  return uses.every((use) => new RegExp(`^${array}\\.push\\(s\\d+\\);$`).test(use) || use === alsoAllowed);
}
function withoutPushes(array, middle) {
  return middle.replace(new RegExp(`\\n[ \\t]*${array}\\.push\\(s\\d+\\);`, 'g'), '');
}
let textArrays = 0;
const patched = whitespaceDone.replace(TEXT_OF, (match, indent, array, middle, test) => {
  if (!onlyPushed(array, middle, `${array} = peg$FAILED;`)) return match;
  textArrays++;
  return `${indent}${array} = peg$noValue;${withoutPushes(array, middle)}${test}`;
});
if (textArrays < 5) throw new Error(`peggy's output for $-expressions changed shape (${textArrays} patched): update the text patch in scripts/build.js`);
// `$X*` cannot fail, so peggy tests nothing before the substring: there the array is recognised by
// the text's start kept just before it (`sA = peg$currPos; sB = [];` … `sA = input.substring(sA, …)`),
// with the same rule for the array's uses. Quoted paths and comments are read this way.
const STAR_TEXT_OF = /(\n[ \t]*(s\d+) = peg\$currPos;\n[ \t]*)(s\d+) = \[\];((?:(?!\n  function |\n[ \t]*\2 = |\n[ \t]*\3 = \[\];)[\s\S])*?)(\n[ \t]*\2 = input\.substring\(\2, peg\$currPos\);)/g;
let starTextArrays = 0;
const starPatched = patched.replace(STAR_TEXT_OF, (match, start, _text, array, middle, text) => {
  if (!onlyPushed(array, middle)) return match;
  starTextArrays++;
  return `${start}${array} = peg$noValue;${withoutPushes(array, middle)}${text}`;
});
if (starTextArrays < 2) throw new Error(`peggy's output for $-expressions with * changed shape (${starTextArrays} patched): update the text patch in scripts/build.js`);
// A second: peggy tests every character against a one-character-class regex (/^[a-z]/.test(ch)),
// which costs far more than the rest of the parser's work per character. Each class keeps its
// regex, made once, behind a 128-entry table for ASCII that the regex itself filled; any other
// character (and the empty string at the end of the input) still goes to the regex. The build
// stops if peggy ever emits a class this does not recognise.
const CLASS_DEF = /^(\s*)const (peg\$r\d+) = (\/\^\[(?:[^\]\\\n]|\\.)*\]\/);$/gm;
const classes = starPatched.match(/^\s*const peg\$r\d+ = .*$/gm) ?? [];
if (classes.length === 0 || classes.some((line) => !new RegExp(CLASS_DEF.source).test(line))) throw new Error("peggy's character classes changed shape: update the class patch in scripts/build.js");
const PARSE = 'function peg$parse(input, options) {';
if (!starPatched.includes(PARSE)) throw new Error("peggy's parse function changed shape: update the class patch in scripts/build.js");
// Each test of a character reads the table in place; only a character past ASCII calls the class's
// test (its regex). (A call per character was most of what is left of a big check's parse.)
const CLASS_TEST = /(peg\$r\d+)\.test\((s\d+)\)/g;
const classTests = starPatched.match(CLASS_TEST)?.length ?? 0;
if (classTests < 5) throw new Error(`peggy's class tests changed shape (${classTests} rewritten): update the class patch in scripts/build.js`);
const fast = starPatched
  .replace(CLASS_DEF, '$1const $2 = peg$asciiClass($3);\n$1const $2$ascii = $2.ascii;')
  .replace(CLASS_TEST, '($1$ascii[$2.charCodeAt(0)] === 1 || ($2.charCodeAt(0) >= 128 && $1.test($2)))')
  .replace(
    PARSE,
    `// Added by scripts/build.js: a character class as a table for ASCII, the regex for the rest.
const peg$asciiClasses = new Map();
function peg$asciiClass(re) {
  let tested = peg$asciiClasses.get(re.source);
  if (tested === undefined) {
    const ascii = new Uint8Array(128);
    for (let c = 0; c < 128; c++) ascii[c] = re.test(String.fromCharCode(c)) ? 1 : 0;
    tested = { ascii, test: (ch) => { const c = ch.charCodeAt(0); return c < 128 ? ascii[c] === 1 : re.test(ch); } };
    peg$asciiClasses.set(re.source, tested);
  }
  return tested;
}

${PARSE}`,
  );
// A third: peggy tests a literal with `input.substr(pos, n) === "literal"`, which makes a new string
// of n characters for each try: every statement keyword tried at every line. startsWith compares in
// place and answers the same, since n is always the literal's length (checked here).
let literals = 0;
const LITERAL = /input\.substr\(peg\$currPos, (\d+)\) === (peg\$c\d+)\)/g;
const constants = new Map([...fast.matchAll(/^\s*const (peg\$c\d+) = ("(?:[^"\\\n]|\\.)*");$/gm)].map(([, name, value]) => [name, JSON.parse(value)]));
const inPlace = fast.replace(LITERAL, (match, length, name) => {
  if (constants.get(name)?.length !== Number(length)) throw new Error(`peggy's literal test ${match} changed shape: update the literal patch in scripts/build.js`);
  literals++;
  return `input.startsWith(${name}, peg$currPos))`;
});
if (literals < 5 || /input\.substr\(/.test(inPlace)) throw new Error(`peggy's literal tests changed shape (${literals} patched): update the literal patch in scripts/build.js`);
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'parser.js'), `// Generated from src/grammar/policy.peggy by scripts/build.js. Do not edit.\n${inPlace}`);
writeFileSync(
  join(outDir, 'parser.d.ts'),
  `// Generated by scripts/build.js. Do not edit.
export interface ParseOptions { startRule?: 'Line' | 'Lines'; grammarSource?: string; /** > 0: record no expectations (peggy's library-mode option). */ peg$silentFails?: number }
export function parse(input: string, options?: ParseOptions): unknown;
export class SyntaxError extends Error {
  expected: Array<{ type: string; text?: string; description?: string }> | null;
  found: string | null;
  location: { start: { offset: number; line: number; column: number }; end: { offset: number; line: number; column: number } };
}
`,
);

const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const common = {
  define: { __NANOPOLICY_VERSION__: JSON.stringify(version) },
  bundle: true, platform: 'node', target: 'node20', logLevel: 'warning', legalComments: 'none' };
// The CLI is one CommonJS file, dist/cli.cjs, that bin/nanopolicy.js runs through a V8 code cache
// (dist/cli.cjs.<size>-<build id>.<role>.cache, made below by running `check` on the bundled policy once):
// start-up then skips parsing and compiling what every command runs (issue 9). CommonJS because
// Node 20 has no code cache for ES modules, and because importing a built-in as an ES module
// touches all of its exports (node:fs's streams among them). What only some commands use stays
// lazy inside the file: the modules behind enforce's and verify's `await import()` (execa, diff,
// child_process, tls, dns …) run only when those commands do. tldts (dist/tldts.cjs) is required on demand.
// commander requires child_process at load, for stand-alone executable subcommands we do not have;
// loading it (and dgram, net behind it) costs every command, so commander gets a lazy stand-in.
const lazyChildProcess = {
  name: 'lazy-child-process-for-commander',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      args.importer.includes('/node_modules/commander/') ? { path: 'child_process', namespace: 'lazy-child-process' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({
      contents: "module.exports = { spawn: (...args) => require('node:child_process').spawn(...args) };",
      loader: 'js',
    }));
  },
};
// `await import('node:x')` stays lazy as a require() inside the bundle: a script run from a code
// cache (vm.Script) cannot import() on Node 20 without an experimental flag.
const lazyBuiltins = {
  name: 'dynamic-import-of-builtins',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, namespace: 'lazy-builtin' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};
// execa and diff (a third of the bundle) live in dist/vendor.cjs, required where enforce, verify and
// the dry run `await import()` them: the code every command reads and parses stays small.
const VENDOR = ['execa', 'diff'];
const vendorSplit = {
  name: 'vendor-split',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(${VENDOR.join('|')})$`) }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, namespace: 'vendor' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'vendor' }, (args) => ({ contents: `module.exports = require('./vendor.cjs')[${JSON.stringify(args.path)}];`, loader: 'js', resolveDir: root }));
    b.onResolve({ filter: /^\.\/vendor\.cjs$/ }, () => ({ path: './vendor.cjs', external: true }));
  },
};
// dist/cli.cjs is one function expression with CommonJS's parameters; bin/nanopolicy.js runs it as
// a script and calls the function it evaluates to. Not a module: nothing requires it.
const CLI_WRAPPER_START = '(function (exports, require, module, __filename, __dirname) {';
const CLI_WRAPPER_END = '\n})';
/** The bundle's last line: this, then 16 hex digits (read by bin/nanopolicy.js). */
const BUILD_ID_MARK = '//# nanopolicy-build ';
mkdirSync(join(root, 'dist'), { recursive: true });
// Earlier builds' files: the split ES module chunks, and code caches of other builds.
const STALE = /^[\w-]+-[A-Z0-9]{8}\.js$|^cli\.js$|^cli\.cjs\..*\.cache$/;
for (const name of readdirSync(join(root, 'dist'))) if (STALE.test(name)) rmSync(join(root, 'dist', name));
rmSync(join(root, 'dist/chunks'), { recursive: true, force: true });
await build({
  ...common,
  entryPoints: [join(root, 'src/cli/main.ts')],
  outfile: join(root, 'dist/cli.cjs'),
  format: 'cjs',
  external: ['node-forge', 'peggy', 'tldts'],
  // tldts and picocolors are files of their own (dist/tldts.cjs, dist/picocolors.cjs, below),
  // required where a wildcard is first checked and where colour is first wanted, so an installed
  // CLI needs no package beside its own files.
  define: { ...common.define, 'import.meta.url': '__nanopolicyModuleUrl', __NANOPOLICY_TLDTS__: JSON.stringify('./tldts.cjs'), __NANOPOLICY_PICOCOLORS__: JSON.stringify('./picocolors.cjs') },
  plugins: [lazyChildProcess, lazyBuiltins, vendorSplit],
  // Minified: a smaller file to read and a smaller cache to load at every start. dist/cli.cjs.map
  // (not referenced from the bundle, so never loaded) maps a NANOPOLICY_DEBUG stack back to src/.
  minify: true,
  sourcemap: 'external',
  // The file is the function bin/nanopolicy.js calls, wrapped here rather than there: a wrapper
  // added at run time makes V8 copy the whole source into one flat string at every start (issue 9).
  banner: { js: `${CLI_WRAPPER_START}const __nanopolicyModuleUrl = require('node:url').pathToFileURL(__filename).href;` },
  footer: { js: CLI_WRAPPER_END },
});
for (const name of ['tldts', 'picocolors']) {
  await build({ ...common, entryPoints: [fileURLToPath(import.meta.resolve(name))], outfile: join(root, `dist/${name}.cjs`), format: 'cjs', minify: true });
}
await build({
  ...common,
  entryPoints: [join(root, 'src/vendor.ts')],
  outfile: join(root, 'dist/vendor.cjs'),
  format: 'cjs',
  plugins: [lazyBuiltins],
  minifyWhitespace: true,
  minifySyntax: true,
});
const cli = readFileSync(join(root, 'dist/cli.cjs'), 'utf8');
if (/\bimport\(/.test(cli)) throw new Error('dist/cli.cjs holds an import(): a code-cached script cannot run it on Node 20');
// The bundle names itself: a hash of its text in a last comment, which bin/nanopolicy.js reads to
// find its code cache. A name from the file's size and time would not survive packing: npm sets
// every file time in a package to 1985, so an installed CLI never found the cache it shipped with.
writeFileSync(join(root, 'dist/cli.cjs'), `${cli}\n${BUILD_ID_MARK}${createHash('sha256').update(cli).digest('hex').slice(0, 16)}\n`);
// The code caches: bin/nanopolicy.js writes one when asked, after its run. The default one from a
// `check` of the bundled policy; verify's from `verify --inside` on it with every probe group
// skipped (it loads and starts the probe code and sends nothing). They are only a speed-up: a
// missing or rejected cache (another Node, other V8 flags) costs the compile it saves, never
// correctness, and the file name ties each to this exact dist/cli.cjs.
const policy = join(root, 'policy/nanoclaw.policy');
const ALL_PROBES = 'bridges,hosts,gateway,direct,proxy,egress,dns,icmp,mounts';
for (const args of [['check', policy], ['verify', '--inside', policy, '--skip', ALL_PROBES, '--json']]) {
  const trained = spawnSync(process.execPath, [join(root, 'bin/nanopolicy.js'), ...args], {
    cwd: root,
    env: { ...process.env, NANOPOLICY_WRITE_CODE_CACHE: '1', NO_COLOR: '1' },
    encoding: 'utf8',
  });
  if (trained.status !== 0) throw new Error(`the built CLI failed its first run of ${args[0]} (status ${trained.status}):\n${trained.stderr}`);
}
await build({
  ...common,
  entryPoints: [join(root, 'src/verify/inside/main.ts')],
  outfile: join(root, 'dist/probe.cjs'),
  format: 'cjs',
});
await build({
  ...common,
  entryPoints: [join(root, 'src/proxy/main.ts')],
  outfile: join(root, 'dist/proxy.js'),
  format: 'esm',
  // dns-packet (the DNS responder's parser) and node-forge (the injection CA, issue 23) are
  // CommonJS and require Node built-ins: an ES module has no `require` of its own, so the bundle
  // gets Node's, which esbuild's shim then uses.
  banner: { js: "import { createRequire as __nanopolicyCreateRequire } from 'node:module'; const require = __nanopolicyCreateRequire(import.meta.url);" },
});
await build({
  ...common,
  entryPoints: [join(root, 'src/proxy/firewall-main.ts')],
  outfile: join(root, 'dist/firewall-log.js'),
  format: 'esm',
});
