// The text the guest holds in place of a secret: not secret, and meaningless outside the proxy.

export const PLACEHOLDER_PREFIX = 'nanopolicy-placeholder:';

// The placeholder for the secret named `name`.
export function placeholderFor(name: string): string {
  return `${PLACEHOLDER_PREFIX}${name}`;
}
