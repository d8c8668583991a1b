// A wrong command line that commander's own parsing cannot catch: main prints it and exits 64.

export class UsageError extends Error {}
