// The probe groups of verify --inside, in report order: one list for the prober and for the CLI,
// which refuses a --skip group not in it (a mistyped group would otherwise skip nothing, silently).

export const PROBE_GROUPS = ['bridges', 'hosts', 'gateway', 'direct', 'proxy', 'inject', 'egress', 'dns', 'icmp', 'mounts'] as const;
