// The packages only enforce and verify use, bundled into dist/vendor.cjs beside the CLI and
// required on first use (scripts/build.js maps `await import('execa')` and `await import('diff')`
// to it), so every other command neither reads nor parses them (issue 9).
export * as execa from 'execa';
export * as diff from 'diff';
