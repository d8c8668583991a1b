// What usually listens on a host port, so a failure can say what the VM could reach.

const SERVICES: Record<number, string> = {
  21: 'FTP', 22: 'SSH', 23: 'telnet', 25: 'SMTP', 53: 'DNS', 67: 'DHCP', 80: 'web server', 88: 'Kerberos',
  111: 'RPC portmapper', 139: 'NetBIOS', 143: 'IMAP', 443: 'HTTPS server', 445: 'SMB file sharing',
  548: 'AFP file sharing', 631: 'printing (CUPS)', 2049: 'NFS', 3000: 'development server', 3283: 'Apple Remote Desktop',
  3306: 'MySQL', 3389: 'remote desktop', 5000: 'AirPlay receiver', 5432: 'PostgreSQL', 5900: 'screen sharing (VNC)',
  6379: 'Redis', 7000: 'AirPlay receiver', 8080: 'web proxy', 8123: 'Home Assistant', 11434: 'Ollama',
  27017: 'MongoDB',
};

// "the host's SSH" for a known port, "a host service" otherwise.
export function describePort(port: number): string {
  const name = SERVICES[port];
  return name ? `the host's ${name}` : 'a host service';
}
