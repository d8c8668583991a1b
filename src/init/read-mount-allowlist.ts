// NanoClaw's mount allowlist (~/.config/nanoclaw/mount-allowlist.json, qwibitai/nanoclaw
// src/mount-security.ts): { allowedRoots: [{ path, allowReadWrite, description? }],
// blockedPatterns: [string], nonMainReadOnly: boolean }. Read as data; anything else is a finding.

export interface AllowedRoot {
  path: string;
  allowReadWrite: boolean;
  description?: string;
}

export interface MountAllowlist {
  allowedRoots: AllowedRoot[];
  blockedPatterns: string[];
  nonMainReadOnly: boolean;
}

// Parses the file's text; a string is the reason it is not a NanoClaw allowlist.
export function parseMountAllowlist(text: string): MountAllowlist | string {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return `it is not JSON (${(error as Error).message})`;
  }
  if (typeof data !== 'object' || data === null) return 'it is not a JSON object';
  const o = data as Record<string, unknown>;
  if (!Array.isArray(o.allowedRoots)) return '"allowedRoots" is not a list';
  const allowedRoots: AllowedRoot[] = [];
  for (const r of o.allowedRoots as unknown[]) {
    if (typeof r !== 'object' || r === null || typeof (r as AllowedRoot).path !== 'string') return 'an entry of "allowedRoots" has no "path"';
    const root = r as Record<string, unknown>;
    allowedRoots.push({
      path: root.path as string,
      // NanoClaw treats anything but true as read-only: so does init.
      allowReadWrite: root.allowReadWrite === true,
      ...(typeof root.description === 'string' ? { description: root.description } : {}),
    });
  }
  const blockedPatterns = Array.isArray(o.blockedPatterns) ? (o.blockedPatterns as unknown[]).filter((p): p is string => typeof p === 'string' && p !== '') : [];
  // Missing or odd: the stricter reading (non-main groups read-only).
  const nonMainReadOnly = o.nonMainReadOnly !== false;
  return { allowedRoots, blockedPatterns, nonMainReadOnly };
}
