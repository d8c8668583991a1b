// The lab's public API: import from 'test/lab/index.ts'. See README.md.

export { LAB_RANGES, PLAN, assertLabAddress, assertLabBindAddress, assertLabPrefix, isLabAddress } from './address-plan.ts';
export { LAB_BASE, sweepStaleLabs } from './destroy-lab.ts';
export { spkiSha256 } from './lab-ca.ts';
export type { LeafCert } from './lab-ca.ts';
export { DEFAULT_HOST_HOSTS, Lab, createLab } from './lab.ts';
export type { LabExecOptions, LabExecResult, LabOptions, LabService, LabTlsService, ProbeResult, Role, ServiceHit, ShareSpec, SharesView } from './lab.ts';
export { labAvailable, requireLab } from './preflight.ts';
export { rewriteInPlace } from './etc-netns.ts';
