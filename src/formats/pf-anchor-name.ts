// The name of a nanopolicy pf anchor: what the compiler loads rules under (anchorName(), the
// sudoers lines, pfctl's command lines) and what the host's readers of `pfctl -s Anchors` look for.
// A contract between a writer and readers on different floors, so it lives below both.

/** Another VM's nanopolicy anchor: what `anchorName()` gives for a valid VM name. */
export const NANOPOLICY_ANCHOR = /^com\.apple\/100\.nanopolicy\.[A-Za-z0-9][A-Za-z0-9._-]*$/;
