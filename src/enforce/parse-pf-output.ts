// Reading what pfctl prints. Pure functions over text, so they are tested against recorded output.

// The reference token `pfctl -E` prints ("Token : 12345"), on stdout or stderr.
export function parseEnableToken(output: string): string | undefined {
  return /^\s*Token\s*:\s*(\d+)\s*$/m.exec(output)?.[1];
}

// Whether `pfctl -s info` says pf is enabled ("Status: Enabled for 0 days …").
export function pfEnabled(info: string): boolean {
  return /^\s*Status:\s*Enabled\b/m.test(info);
}

// Whether the main ruleset (`pfctl -sr`) still evaluates the anchors under com.apple/.
export function mainRulesetHasAppleAnchor(rules: string): boolean {
  return /^\s*anchor\s+"com\.apple\/\*"/m.test(rules);
}

// Whether the main ruleset skips filtering on an interface (`set skip on X` shows in -s Interfaces
// as "(skip)"); given the interface names that are skipped.
export function skippedInterfaces(interfacesVerbose: string): string[] {
  const out: string[] = [];
  for (const line of interfacesVerbose.split('\n')) {
    const m = /^(\S+)\s+\(skip\)/.exec(line.trim());
    if (m?.[1]) out.push(m[1]);
  }
  return out;
}

// Whether `pfctl -a X -sr` failed because the anchor does not exist: xnu's DIOCGETRULES returns
// EINVAL for an unknown anchor and pfctl prints "pfctl: DIOCGETRULES: Invalid argument".
export function anchorMissing(stderr: string): boolean {
  return /DIOCGETRULES: Invalid argument/.test(stderr);
}

// Whether `pfctl -X TOKEN` failed because the reference is already gone: xnu's DIOCSTOPREF returns
// ENOENT when pf is disabled ("pf not enabled") and EINVAL for a token it does not hold ("pf: token
// invalid"); `pfctl -d` (or a reboot) drops every token, so after someone's `pfctl -d` and a
// re-enable our saved token is one of these. Both exit 1.
export function tokenAlreadyReleased(stderr: string): boolean {
  return /\bpf not enabled\b|\btoken invalid\b/.test(stderr);
}
