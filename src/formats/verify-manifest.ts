// verify.json: what `verify` must find open and what it must find blocked, derived from the policy.
// Written by `compile` (src/compiler/emit/verify-manifest.ts), read by the host verifier and by the
// probe that runs inside the VM, so it holds only plain data.

export interface VerifyManifest {
  /** Bumped on any incompatible change. */
  format: 1;
  generatedBy: 'nanopolicy';
  policy: { file: string; sha256: string };
  vm: string;
  gateway: string;
  subnet: string;
  /** pf anchor path on macOS; the nft table is `inet nanopolicy_<vm>` with "-" mapped to "_". */
  anchor: string;
  /** Each bridge must connect at gateway:listen; TLS ones must handshake as `serverName`. */
  bridges: Array<{
    name: string;
    listen: number;
    tls: boolean;
    /** SNI and the name the certificate must match: the target host (a name or an address). */
    serverName: string;
    pin?: string;
    target: { host: string; port: number; kind: 'dns' | 'ipv4' | 'ipv6' };
  }>;
  /** Every TCP port of the gateway in [from, to] except these must be closed. */
  gatewaySweep: { from: 1; to: 65535; except: number[] };
  /** The bridges' real targets, tried directly from the VM: all must be blocked. */
  direct: Array<{ bridge: string; host: string; port: number }>;
  /** Lines the VM's /etc/hosts must hold so TLS names resolve to the gateway. */
  hosts: Array<{ name: string; address: string }>;
  /** With egress: the proxy on the gateway, and every name it must let through (wildcards as written). */
  egress?: {
    proxy: { host: string; port: number };
    names: Array<{ rule: string; host: string; port: number; wildcard: boolean }>;
    /** The doors on the gateway: the ports the VM dials for the transparent door (443, …), and 53,
     *  where nanopolicy's DNS responder answers the listed names with the gateway. */
    doors?: { ports: number[]; dns: number };
  };
  /** With credential injection: what the VM sends with placeholders only (docs/credential-injection.md, "verify"). */
  inject?: {
    /** One cheap authenticated request per injected name, its headers holding the placeholders as a client would send them; the upstream must accept it. No method and path: no cheap call is known for the name (verify --inject-request gives one; without it the row is NOT RUN). */
    requests: Array<{ rule: string; host: string; port: number; method?: string; path?: string; headers: Array<{ name: string; value: string }> }>;
    /** Injected names no request can stand for (a wildcard), and why. */
    unprobed: Array<{ rule: string; host: string; why: string }>;
    /** Gateways whose token the proxy puts into IDENTIFY/RESUME (`websocket-token`): the VM opens a
     *  WebSocket through the injecting layer and reads the server's HELLO, and sends no token (an
     *  IDENTIFY would log the bot in). `provenBy`: an injected request above that carries the same
     *  secret, so the token's value is checked there. */
    websockets?: Array<{ rule: string; host: string; port: number; path: string; secret: string; provenBy?: string }>;
    /** Listed names without injection: their TLS must not be our CA's (the tunnel is end to end, so a placeholder sent there arrives as sent). */
    plain: Array<{ rule: string; host: string; port: number }>;
    /** Every secret's placeholder. */
    placeholders: string[];
  };
  /** Shares under `sharesRoot`; nothing else may be there. */
  sharesRoot: string;
  mounts: Array<{ name: string; mode: 'ro' | 'rw' }>;
}
