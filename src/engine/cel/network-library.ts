/**
 * The Kubernetes CEL network libraries (k8s.io/apiserver/pkg/cel/library ip.go and cidr.go): `ip()`,
 * `isIP()`, `ip.isCanonical()`, `cidr()`, `isCIDR()` and their member functions.
 *
 * Parsing is as strict as Go's netip, which Kubernetes uses: node:net decides what is an address (it rejects
 * IPv4 octets with leading zeros, as netip does), ipaddr.js gives the bytes. Kubernetes also refuses zones
 * (`fe80::1%eth0`) and IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`), so these are refused here too.
 */
import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { Environment } from '@marcbachmann/cel-js';
import { boundedMemo } from './values.js';

/** A CEL `net.IP`: the address bytes (4 or 16). */
export class CelIP {
  toCelText(): string {
    return this.toString();
  }
  constructor(readonly bytes: readonly number[]) {}
  get family(): 4 | 6 {
    return this.bytes.length === 4 ? 4 : 6;
  }
  toString(): string {
    return formatBytes(this.bytes);
  }
}

/** A CEL `net.CIDR`: the address as written (not masked) and the prefix length. */
export class CelCIDR {
  toCelText(): string {
    return this.toString();
  }
  constructor(
    readonly ip: CelIP,
    readonly bits: number,
  ) {}
  toString(): string {
    return `${this.ip.toString()}/${this.bits}`;
  }
}

/** The receiver of `ip.isCanonical(…)` (the name `ip` is also the conversion function). */
class IPNamespace {}

function formatBytes(bytes: readonly number[]): string {
  const addr = ipaddr.fromByteArray([...bytes]);
  return addr.kind() === 'ipv6' ? (addr as ipaddr.IPv6).toRFC5952String() : addr.toString();
}

/** The address bytes, or a reason it is not an address Kubernetes accepts. */
const parseAddress = boundedMemo(parseAddressUncached);
const parsePrefix = boundedMemo(parsePrefixUncached);

function parseAddressUncached(s: string): CelIP | string {
  if (s.includes('%')) return `IP address with zone value is not allowed: ${s}`;
  if (isIPv4(s)) return new CelIP(ipaddr.IPv4.parse(s).toByteArray());
  if (isIPv6(s)) {
    const v6 = ipaddr.IPv6.parse(s);
    if (v6.isIPv4MappedAddress()) return `IPv4-mapped IPv6 address is not allowed: ${s}`;
    return new CelIP(v6.toByteArray());
  }
  return `IP Address ${JSON.stringify(s)} parse error during conversion from string: ParseAddr(${JSON.stringify(s)}): unable to parse IP`;
}

function parsePrefixUncached(s: string): CelCIDR | string {
  const slash = s.lastIndexOf('/');
  if (slash < 0) return `network address parse error during conversion from string: no '/' in ${s}`;
  const ip = parseAddress(s.slice(0, slash));
  if (typeof ip === 'string') return ip;
  const bitsText = s.slice(slash + 1);
  const max = ip.family === 4 ? 32 : 128;
  // netip.ParsePrefix: decimal digits only, no sign, no leading zeros.
  if (!/^(0|[1-9][0-9]{0,2})$/.test(bitsText) || Number(bitsText) > max)
    return `network address parse error during conversion from string: bad bits after slash: ${JSON.stringify(bitsText)}`;
  return new CelCIDR(ip, Number(bitsText));
}

function mask(bytes: readonly number[], bits: number): number[] {
  return bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
}

const sameBytes = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

function inPrefix(c: CelCIDR, ip: CelIP): boolean {
  return ip.family === c.ip.family && sameBytes(mask(ip.bytes, c.bits), mask(c.ip.bytes, c.bits));
}

function ipOf(s: string): CelIP {
  const r = parseAddress(s);
  if (typeof r === 'string') throw new Error(r);
  return r;
}

function cidrOf(s: string): CelCIDR {
  const r = parsePrefix(s);
  if (typeof r === 'string') throw new Error(r);
  return r;
}

// netip's classification, on bytes.
const isUnspecified = (ip: CelIP): boolean => ip.bytes.every((b) => b === 0);
const isLoopback = (ip: CelIP): boolean =>
  ip.family === 4 ? ip.bytes[0] === 127 : ip.bytes.slice(0, 15).every((b) => b === 0) && ip.bytes[15] === 1;
const isMulticast = (ip: CelIP): boolean =>
  ip.family === 4 ? (ip.bytes[0]! & 0xf0) === 0xe0 : ip.bytes[0] === 0xff;
const isLinkLocalUnicast = (ip: CelIP): boolean =>
  ip.family === 4
    ? ip.bytes[0] === 169 && ip.bytes[1] === 254
    : ip.bytes[0] === 0xfe && (ip.bytes[1]! & 0xc0) === 0x80;
const isLinkLocalMulticast = (ip: CelIP): boolean =>
  ip.family === 4
    ? ip.bytes[0] === 224 && ip.bytes[1] === 0 && ip.bytes[2] === 0
    : ip.bytes[0] === 0xff && (ip.bytes[1]! & 0x0f) === 0x02;
const isGlobalUnicast = (ip: CelIP): boolean =>
  !(ip.family === 4 && ip.bytes.every((b) => b === 255)) &&
  !isUnspecified(ip) &&
  !isLoopback(ip) &&
  !isMulticast(ip) &&
  !isLinkLocalUnicast(ip);

export function registerNetworkLibrary(env: Environment): void {
  env.registerType('net.IP', CelIP);
  env.registerType('net.CIDR', CelCIDR);
  env.registerType('IPNamespace', IPNamespace);
  env.registerConstant('ip', 'IPNamespace', new IPNamespace());

  env.registerFunction('ip(string): net.IP', ipOf);
  env.registerFunction('isIP(string): bool', (s: string) => typeof parseAddress(s) !== 'string');
  env.registerFunction('IPNamespace.isCanonical(string): bool', (_: unknown, s: string) => {
    const r = parseAddress(s);
    if (typeof r === 'string') throw new Error(r);
    return r.toString() === s;
  });
  env.registerFunction('string(net.IP): string', (ip: CelIP) => ip.toString());
  env.registerFunction('net.IP.family(): int', (ip: CelIP) => BigInt(ip.family));
  env.registerFunction('net.IP.isUnspecified(): bool', isUnspecified);
  env.registerFunction('net.IP.isLoopback(): bool', isLoopback);
  env.registerFunction('net.IP.isLinkLocalMulticast(): bool', isLinkLocalMulticast);
  env.registerFunction('net.IP.isLinkLocalUnicast(): bool', isLinkLocalUnicast);
  env.registerFunction('net.IP.isGlobalUnicast(): bool', isGlobalUnicast);
  env.registerOperator('net.IP == net.IP', (a: CelIP, b: CelIP) => sameBytes(a.bytes, b.bytes));

  env.registerFunction('cidr(string): net.CIDR', cidrOf);
  env.registerFunction('isCIDR(string): bool', (s: string) => typeof parsePrefix(s) !== 'string');
  env.registerFunction('string(net.CIDR): string', (c: CelCIDR) => c.toString());
  env.registerFunction('net.CIDR.containsIP(net.IP): bool', inPrefix);
  env.registerFunction('net.CIDR.containsIP(string): bool', (c: CelCIDR, s: string) => inPrefix(c, ipOf(s)));
  const containsCidr = (c: CelCIDR, o: CelCIDR): boolean => o.bits >= c.bits && inPrefix(c, o.ip);
  env.registerFunction('net.CIDR.containsCIDR(net.CIDR): bool', containsCidr);
  env.registerFunction('net.CIDR.containsCIDR(string): bool', (c: CelCIDR, s: string) =>
    containsCidr(c, cidrOf(s)),
  );
  env.registerFunction('net.CIDR.ip(): net.IP', (c: CelCIDR) => c.ip);
  env.registerFunction(
    'net.CIDR.masked(): net.CIDR',
    (c: CelCIDR) => new CelCIDR(new CelIP(mask(c.ip.bytes, c.bits)), c.bits),
  );
  env.registerFunction('net.CIDR.prefixLength(): int', (c: CelCIDR) => BigInt(c.bits));
  env.registerOperator(
    'net.CIDR == net.CIDR',
    (a: CelCIDR, b: CelCIDR) => a.bits === b.bits && sameBytes(a.ip.bytes, b.ip.bytes),
  );
}
