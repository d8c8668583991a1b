// proxy.env: the environment that sends the VM's HTTP(S) clients through the egress proxy on the
// gateway (domain.md §8), with the bridges' names left direct, and how to install it in the guest.

import type { Policy } from '../policy.ts';
import { hashHeader } from './header.ts';

// The proxy's URL as clients in the VM write it.
export function proxyUrl(policy: Policy): string {
  if (!policy.proxy) throw new Error(`The policy for "${policy.vm}" lists no egress: there is no proxy.`);
  return `http://${policy.network.gateway}:${policy.proxy.listen}`;
}

// What stays direct: the bridges' target names (their hosts lines point at the gateway and their
// ports are the bridges', which the proxy would refuse), the gateway itself and loopback.
export function noProxyList(policy: Policy): string[] {
  const names = policy.bridges.filter((b) => b.target.kind === 'dns').map((b) => b.target.host);
  return [...new Set([...names.sort(), policy.network.gateway, 'localhost', '127.0.0.1', '::1'])];
}

// The variables, in file order.
export function proxyEnvironment(policy: Policy): Array<[string, string]> {
  const url = proxyUrl(policy);
  const noProxy = noProxyList(policy).join(',');
  return [
    ['HTTPS_PROXY', url],
    ['HTTP_PROXY', url],
    ['NO_PROXY', noProxy],
    // curl reads only the lowercase http_proxy (an HTTP_PROXY header in CGI could set the
    // uppercase one); many tools read only the lowercase pair. Both, so every client agrees.
    ['https_proxy', url],
    ['http_proxy', url],
    ['no_proxy', noProxy],
    // Node honours the variables only when asked (fetch; http/https in late 22.x and 24.x).
    ['NODE_USE_ENV_PROXY', '1'],
    ...injectionEnvironment(policy),
  ];
}

const GUEST_DIR = '~/.config/nanopolicy';

// With injection: the placeholder in each variable the owner named, and where the guest's TLS
// clients find our CA (Node adds NODE_EXTRA_CA_CERTS to its own roots; OpenSSL and Python replace
// theirs with the file, so they get the system bundle with our CA appended).
function injectionEnvironment(policy: Policy): Array<[string, string]> {
  if (policy.secrets.length === 0) return [];
  const out: Array<[string, string]> = [];
  for (const secret of policy.secrets) if (secret.env !== undefined) out.push([secret.env, secret.placeholder]);
  // Absolute paths: launchctl setenv does not expand "~". The guest user is tart's "admin".
  const dir = '/Users/admin/.config/nanopolicy';
  out.push(['NODE_EXTRA_CA_CERTS', `${dir}/proxy-ca.pem`], ['SSL_CERT_FILE', `${dir}/ca-bundle.pem`], ['REQUESTS_CA_BUNDLE', `${dir}/ca-bundle.pem`]);
  return out;
}

// The header lines that tell the owner how the guest trusts our CA (only with injection).
function injectionHeader(policy: Policy): string[] {
  if (policy.secrets.length === 0) return [];
  return [
    'Credentials: the VM holds placeholders only (nanopolicy-placeholder:NAME); the proxy adds the real',
    `secrets for their services. Copy the proxy's CA (proxy-ca.pem in enforce's state directory) to ${GUEST_DIR}/`,
    'in the guest, then:',
    `  cat /etc/ssl/cert.pem ${GUEST_DIR}/proxy-ca.pem > ${GUEST_DIR}/ca-bundle.pem`,
    `  sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${GUEST_DIR}/proxy-ca.pem`,
    'The CA is name-constrained to the injected names: it cannot vouch for any other site.',
  ];
}

// The file's text: KEY=VALUE lines a shell can source and launchctl can read.
export function emitProxyEnv(policy: Policy): string {
  const header = hashHeader(policy, [
    `Environment for the VM "${policy.vm}": HTTPS goes through the egress proxy at ${proxyUrl(policy)},`,
    'which lets through only the names the policy lists (everything else gets a 403).',
    'Install it inside the VM (macOS guest), copied to ~/.config/nanopolicy/proxy.env:',
    '  Shells (zsh reads ~/.zprofile at login):',
    "    echo 'set -a; . ~/.config/nanopolicy/proxy.env; set +a' >> ~/.zprofile",
    '  Programs launchd starts for you (the NanoClaw agent, apps): run at each login, e.g. from a',
    '  LaunchAgent, since launchctl setenv does not survive a logout:',
    "    grep -v '^#' ~/.config/nanopolicy/proxy.env | while IFS='=' read -r k v; do launchctl setenv \"$k\" \"$v\"; done",
    'Check from the VM: curl -sv https://<a listed name>/ connects; any other name gets a 403.',
    ...injectionHeader(policy),
  ]);
  return header + proxyEnvironment(policy).map(([k, v]) => `${k}=${v}\n`).join('');
}
