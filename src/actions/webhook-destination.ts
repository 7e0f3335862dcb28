/**
 * Where a webhook may be sent. A policy author chooses the URL, and the agent attaches a Secret's
 * token to it, so the destination is checked on the address actually connected to (the `lookup`
 * hook runs at connect time: a name that resolves to a public address when checked and to the
 * metadata service when connecting is still refused).
 *
 * Default: every destination except loopback, link-local, unspecified and the cloud metadata
 * services. With allow entries, only what they name; an address in a refused class passes only when
 * an entry names that address (an IP, a CIDR, or a URL prefix with an IP host): a host name never
 * unlocks it, because what a name resolves to can change.
 *
 * Hand-written on node:net's BlockList (no dependency): the rules are a few address ranges.
 */
import { KyvernoRuntimeError } from '../contracts/errors.js';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

export type LookupAll = (
  hostname: string,
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

const systemLookup: LookupAll = (hostname, cb) => dnsLookup(hostname, { all: true, verbatim: true }, cb);

/** Names that reach a cloud metadata service whatever they resolve to. */
const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata']);

function refusedClass(address: string): string | undefined {
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  for (const [name, list] of REFUSED) if (list.check(address, family)) return name;
  return undefined;
}

const REFUSED: [string, BlockList][] = (() => {
  const metadata = new BlockList();
  metadata.addAddress('169.254.169.254', 'ipv4');
  metadata.addAddress('169.254.170.2', 'ipv4'); // ECS task metadata
  metadata.addAddress('fd00:ec2::254', 'ipv6');
  const linkLocal = new BlockList();
  linkLocal.addSubnet('169.254.0.0', 16, 'ipv4');
  linkLocal.addSubnet('fe80::', 10, 'ipv6');
  const loopback = new BlockList();
  loopback.addSubnet('127.0.0.0', 8, 'ipv4');
  loopback.addAddress('::1', 'ipv6');
  const unspecified = new BlockList();
  unspecified.addSubnet('0.0.0.0', 8, 'ipv4'); // connecting to 0.0.0.0 reaches this host
  unspecified.addAddress('::', 'ipv6');
  return [
    ['metadata', metadata],
    ['link-local', linkLocal],
    ['loopback', loopback],
    ['unspecified', unspecified],
  ];
})();

/** Strips the brackets of an IPv6 URL host. */
const bare = (host: string): string =>
  host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;

export class WebhookDestinationRefused extends KyvernoRuntimeError {
  constructor(readonly detail: string) {
    super('E_WEBHOOK_DESTINATION', detail);
  }
}

export class WebhookDestinations {
  private readonly prefixes: URL[] = [];
  private readonly hosts = new Set<string>();
  /** IP and CIDR entries: destinations allowed by address. */
  private readonly addresses = new BlockList();
  private hasAddresses = false;
  /** Addresses an entry names (including a URL prefix's IP host): these pass the refused classes. */
  private readonly named = new BlockList();
  private hasNamed = false;
  private readonly resolve: LookupAll;

  /**
   * @param allow entries: a URL prefix ("https://hooks.example.com/ci/"), a host name or IP
   *   ("hooks.example.com", "127.0.0.1", "::1") or a CIDR ("10.0.0.0/8"). Throws on a bad entry.
   */
  constructor(allow: readonly string[] = [], opts: { lookup?: LookupAll } = {}) {
    this.resolve = opts.lookup ?? systemLookup;
    for (const raw of allow) {
      const entry = raw.trim();
      if (entry === '') continue;
      if (entry.includes('://')) {
        let url: URL;
        try {
          url = new URL(entry);
        } catch {
          throw new Error(`webhook allow entry "${entry}" is not a URL`);
        }
        if (url.protocol !== 'https:' && url.protocol !== 'http:')
          throw new Error(`webhook allow entry "${entry}": only http(s) URLs`);
        this.prefixes.push(url);
        const h = bare(url.hostname);
        if (isIP(h)) this.name(h);
        continue;
      }
      const slash = entry.indexOf('/');
      if (slash >= 0) {
        const ip = entry.slice(0, slash);
        const bits = Number(entry.slice(slash + 1));
        const v = isIP(ip);
        if (v === 0 || !Number.isInteger(bits) || bits < 0 || bits > (v === 4 ? 32 : 128))
          throw new Error(`webhook allow entry "${entry}" is not a CIDR`);
        this.addresses.addSubnet(ip, bits, v === 4 ? 'ipv4' : 'ipv6');
        this.named.addSubnet(ip, bits, v === 4 ? 'ipv4' : 'ipv6');
        this.hasAddresses = this.hasNamed = true;
        continue;
      }
      const host = bare(entry).toLowerCase();
      if (!/^[a-z0-9.:_-]+$/.test(host)) throw new Error(`webhook allow entry "${entry}" is not a host`);
      this.hosts.add(host);
      if (isIP(host)) {
        this.addresses.addAddress(host, isIP(host) === 6 ? 'ipv6' : 'ipv4');
        this.hasAddresses = true;
        this.name(host);
      }
    }
  }

  get restricted(): boolean {
    return this.prefixes.length > 0 || this.hosts.size > 0 || this.hasAddresses;
  }

  /** True when an http:// URL is explicitly allowed (an http:// prefix entry covers it). */
  allowsPlainHttp(url: URL): boolean {
    return url.protocol === 'http:' && this.prefixes.some((p) => p.protocol === 'http:' && under(url, p));
  }

  /** Checks the URL itself (before any connection); throws WebhookDestinationRefused. */
  checkUrl(url: URL): void {
    const host = bare(url.hostname).toLowerCase().replace(/\.$/, '');
    if (METADATA_NAMES.has(host) && !this.hosts.has(host))
      throw new WebhookDestinationRefused(`${host} is a cloud metadata service`);
    if (this.restricted && !this.listed(url, host) && !(isIP(host) && this.inAllowList(host)))
      throw new WebhookDestinationRefused(`${url.host} is not in the webhook allow-list`);
    if (isIP(host)) this.checkAddress(host, url);
  }

  /** A `lookup` for http(s).request: resolves, then refuses addresses the rules refuse. */
  lookupFor(url: URL): LookupFunction {
    return (hostname, options, callback) => {
      this.resolve(hostname, (err, addresses) => {
        if (err) return callback(err, '', 0);
        const wanted = options.family === 4 || options.family === 6 ? options.family : 0;
        const usable = addresses.filter((a) => wanted === 0 || a.family === wanted);
        try {
          if (usable.length === 0) throw new Error(`${hostname} did not resolve`);
          // Every answer is checked, not only the first: the client may fall back to the others.
          for (const a of usable) this.checkAddress(a.address, url);
        } catch (e) {
          return callback(e as NodeJS.ErrnoException, '', 0);
        }
        if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
        callback(null, usable[0]!.address, usable[0]!.family);
      });
    };
  }

  private checkAddress(address: string, url: URL): void {
    const cls = refusedClass(address);
    if (cls !== undefined && !this.isNamed(address))
      throw new WebhookDestinationRefused(
        `${url.host} resolves to ${address} (${cls}); allow that address explicitly to send there`,
      );
  }

  private name(ip: string): void {
    this.named.addAddress(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
    this.hasNamed = true;
  }

  private inAllowList(address: string): boolean {
    return this.hasAddresses && this.addresses.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }

  private isNamed(address: string): boolean {
    return this.hasNamed && this.named.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }

  private listed(url: URL, host: string): boolean {
    return this.hosts.has(host) || this.prefixes.some((p) => under(url, p));
  }
}

/** URL `u` is at or below prefix `p`: same scheme, host and port, path under p's path. */
function under(u: URL, p: URL): boolean {
  if (u.protocol !== p.protocol || u.host.toLowerCase() !== p.host.toLowerCase()) return false;
  if (p.pathname === '/' || u.pathname === p.pathname) return true;
  const base = p.pathname.endsWith('/') ? p.pathname : `${p.pathname}/`;
  return u.pathname.startsWith(base);
}
