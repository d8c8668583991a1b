// The check passes, in the order their reports read best; each only reports.

import type { CheckPass } from '../check-context.ts';
import { reportStatementCounts } from './report-statement-counts.ts';
import { reportRepeatedOptions } from './report-repeated-options.ts';
import { reportInvalidNames } from './report-invalid-names.ts';
import { reportDuplicateNames } from './report-duplicate-names.ts';
import { checkNetwork } from './check-network.ts';
import { checkBridgePorts } from './check-bridge-ports.ts';
import { checkBridgeTargets } from './check-bridge-targets.ts';
import { checkPins } from './check-pins.ts';
import { checkPfLimits } from './check-pf-limits.ts';
import { checkMountPaths } from './check-mount-paths.ts';
import { checkTartArgv } from './check-tart-argv.ts';
import { checkSensitiveMounts } from './check-sensitive-mounts.ts';
import { checkNestedMounts } from './check-nested-mounts.ts';
import { checkCageOutsideWritableMounts } from './check-cage-outside-writable-mounts.ts';
import { reportProxyLines } from './report-proxy-lines.ts';
import { checkProxyPort } from './check-proxy-port.ts';
import { checkEgressHosts } from './check-egress-hosts.ts';
import { reportDuplicateEgressHosts } from './report-duplicate-egress-hosts.ts';
import { checkSnapshots } from './check-snapshots.ts';
import { checkSecretReferences } from './check-secret-references.ts';
import { checkSecretSources } from './check-secret-sources.ts';
import { checkSecretVariables } from './check-secret-variables.ts';
import { checkInjectHeaders } from './check-inject-headers.ts';
import { checkInjectScope } from './check-inject-scope.ts';

export const CHECK_PASSES: readonly CheckPass[] = [
  reportStatementCounts,
  reportRepeatedOptions,
  reportInvalidNames,
  reportDuplicateNames,
  checkNetwork,
  checkBridgePorts,
  checkBridgeTargets,
  checkPins,
  checkPfLimits,
  checkMountPaths,
  checkTartArgv,
  checkSensitiveMounts,
  checkNestedMounts,
  checkCageOutsideWritableMounts,
  reportProxyLines,
  checkProxyPort,
  checkEgressHosts,
  reportDuplicateEgressHosts,
  checkSnapshots,
  checkSecretSources,
  checkSecretVariables,
  checkInjectHeaders,
  checkSecretReferences,
  checkInjectScope,
];
