/**
 * Kyverno's `random(pattern)` and `x509_decode(pem)` (pkg/engine/jmespath/functions.go).
 *
 * `random` generates a string the RE2 pattern matches, as goregen does for Kyverno (unbounded repeats `*`, `+`,
 * `{n,}` repeat at most 10 more times). Hand-written because no npm package generates from RE2 syntax with a
 * bound on the output; the pattern is first checked by RE2, then read by a small parser that knows literals,
 * classes (`[a-z]`, `[^…]`, `\d`, `\w`, `\s`, `.`), groups, alternation and repeats. The output is capped.
 *
 * `x509_decode` reads a PEM certificate with node:crypto and returns the fields of Go's x509.Certificate JSON
 * that node exposes (docs/expressions.md lists them); like Kyverno it requires an RSA key, whose `PublicKey` is
 * `{N: "<decimal>", E: <int>}`. Certificate requests (CSR) are not supported: node cannot parse them.
 */
import { X509Certificate, randomInt } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { MAX_DECODE_INPUT, MAX_GENERATED_LENGTH, expressionLimitError } from '../../expression-limits.js';
import { goRegexpError } from '../../regexp.js';
import { JmesPathFunctionError } from '../errors.js';
import { argString } from './args.js';
import { kyvernoFunction as fn, type KyvernoFunction } from './types.js';

// ---------------------------------------------------------------------------------------------------------------
// random

const MAX_PATTERN_LENGTH = 1024;
const MAX_GROUP_DEPTH = 32;
/** goregen's default for `*`, `+` and `{n,}`. */
const UNBOUNDED_EXTRA = 10;
const PRINTABLE: readonly [number, number][] = [[0x20, 0x7e]];
const DIGIT: readonly [number, number][] = [[0x30, 0x39]];
const WORD: readonly [number, number][] = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
const SPACE: readonly [number, number][] = [
  [0x09, 0x0a],
  [0x0c, 0x0d],
  [0x20, 0x20],
];

type Ranges = readonly (readonly [number, number])[];
type Node =
  | { kind: 'class'; ranges: Ranges }
  | { kind: 'seq'; items: Node[] }
  | { kind: 'alt'; options: Node[] }
  | { kind: 'repeat'; node: Node; min: number; max: number };

function complement(ranges: Ranges): Ranges {
  const out: [number, number][] = [];
  for (let c = 0x20; c <= 0x7e; c++) {
    if (ranges.some(([a, b]) => c >= a && c <= b)) continue;
    const last = out[out.length - 1];
    if (last !== undefined && last[1] === c - 1) last[1] = c;
    else out.push([c, c]);
  }
  return out;
}

class PatternReader {
  private i = 0;
  constructor(private readonly src: string) {}

  parse(): Node {
    const node = this.alternation(0);
    if (this.i < this.src.length) throw new Error(`unexpected ${this.src[this.i]} at ${this.i}`);
    return node;
  }

  private alternation(depth: number): Node {
    if (depth > MAX_GROUP_DEPTH) throw new Error(`groups nest deeper than ${MAX_GROUP_DEPTH}`);
    const options: Node[] = [this.sequence(depth)];
    while (this.src[this.i] === '|') {
      this.i++;
      options.push(this.sequence(depth));
    }
    return options.length === 1 ? options[0]! : { kind: 'alt', options };
  }

  private sequence(depth: number): Node {
    const items: Node[] = [];
    while (this.i < this.src.length && this.src[this.i] !== '|' && this.src[this.i] !== ')') {
      const atom = this.atom(depth);
      if (atom !== undefined) items.push(this.repeats(atom));
    }
    return { kind: 'seq', items };
  }

  private repeats(atom: Node): Node {
    let node = atom;
    for (;;) {
      const c = this.src[this.i];
      let min: number;
      let max: number;
      if (c === '*') [min, max] = [0, UNBOUNDED_EXTRA];
      else if (c === '+') [min, max] = [1, 1 + UNBOUNDED_EXTRA];
      else if (c === '?') [min, max] = [0, 1];
      else if (c === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i));
        if (m === null) return node;
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? min + UNBOUNDED_EXTRA : Number(m[3]);
        this.i += m[0].length - 1;
      } else return node;
      this.i++;
      if (this.src[this.i] === '?') this.i++; // non-greedy: same strings
      node = { kind: 'repeat', node, min, max };
    }
  }

  private escape(): Ranges | number {
    const c = this.src[this.i++];
    switch (c) {
      case 'd':
        return DIGIT;
      case 'D':
        return complement(DIGIT);
      case 'w':
        return WORD;
      case 'W':
        return complement(WORD);
      case 's':
        return SPACE;
      case 'S':
        return complement(SPACE);
      case 'n':
        return 0x0a;
      case 't':
        return 0x09;
      case 'r':
        return 0x0d;
      case undefined:
        throw new Error('trailing backslash');
      default:
        return c.codePointAt(0)!;
    }
  }

  private atom(depth: number): Node | undefined {
    const c = this.src[this.i]!;
    if (c === '(') {
      this.i++;
      if (this.src[this.i] === '?') {
        // (?:…), (?i:…), (?P<name>…): the flags do not change what we generate.
        const m = /^\?(P?<[^>]*>|[a-zA-Z-]*:)/.exec(this.src.slice(this.i));
        if (m === null) {
          // A bare flag group like (?i) applies to the rest; it generates nothing.
          const flags = /^\?[a-zA-Z-]*\)/.exec(this.src.slice(this.i));
          if (flags === null) throw new Error('unsupported group');
          this.i += flags[0].length;
          return undefined;
        }
        this.i += m[0].length;
      }
      const inner = this.alternation(depth + 1);
      if (this.src[this.i] !== ')') throw new Error('missing )');
      this.i++;
      return inner;
    }
    this.i++;
    switch (c) {
      case '^':
      case '$':
        return undefined;
      case '.':
        return { kind: 'class', ranges: PRINTABLE };
      case '[':
        return { kind: 'class', ranges: this.bracket() };
      case '\\': {
        if (
          this.src[this.i] === 'b' ||
          this.src[this.i] === 'B' ||
          this.src[this.i] === 'A' ||
          this.src[this.i] === 'z'
        ) {
          this.i++;
          return undefined;
        }
        const e = this.escape();
        return { kind: 'class', ranges: typeof e === 'number' ? [[e, e]] : e };
      }
      default: {
        const cp = c.codePointAt(0)!;
        if (cp > 0xffff) this.i++;
        return { kind: 'class', ranges: [[cp, cp]] };
      }
    }
  }

  private bracket(): Ranges {
    let negate = false;
    if (this.src[this.i] === '^') {
      negate = true;
      this.i++;
    }
    const ranges: [number, number][] = [];
    let first = true;
    while (this.i < this.src.length && (this.src[this.i] !== ']' || first)) {
      first = false;
      if (this.src.startsWith('[:', this.i)) {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(this.src.slice(this.i));
        if (m === null) throw new Error('bad class');
        this.i += m[0].length;
        const named: Record<string, Ranges> = {
          digit: DIGIT,
          alpha: [
            [0x41, 0x5a],
            [0x61, 0x7a],
          ],
          alnum: [
            [0x30, 0x39],
            [0x41, 0x5a],
            [0x61, 0x7a],
          ],
          lower: [[0x61, 0x7a]],
          upper: [[0x41, 0x5a]],
          space: SPACE,
          word: WORD,
          xdigit: [
            [0x30, 0x39],
            [0x41, 0x46],
            [0x61, 0x66],
          ],
        };
        const r = named[m[2]!] ?? PRINTABLE;
        ranges.push(...(m[1] === '^' ? complement(r) : r).map(([a, b]) => [a, b] as [number, number]));
        continue;
      }
      let lo: number;
      if (this.src[this.i] === '\\') {
        this.i++;
        const e = this.escape();
        if (typeof e !== 'number') {
          ranges.push(...e.map(([a, b]) => [a, b] as [number, number]));
          continue;
        }
        lo = e;
      } else {
        lo = this.src.codePointAt(this.i)!;
        this.i += lo > 0xffff ? 2 : 1;
      }
      let hi = lo;
      if (this.src[this.i] === '-' && this.src[this.i + 1] !== ']' && this.i + 1 < this.src.length) {
        this.i++;
        if (this.src[this.i] === '\\') {
          this.i++;
          const e = this.escape();
          if (typeof e !== 'number') throw new Error('bad range');
          hi = e;
        } else {
          hi = this.src.codePointAt(this.i)!;
          this.i += hi > 0xffff ? 2 : 1;
        }
      }
      ranges.push([lo, hi]);
    }
    if (this.src[this.i] !== ']') throw new Error('missing ]');
    this.i++;
    return negate ? complement(ranges) : ranges;
  }
}

function generate(node: Node, out: string[], length: { n: number }): void {
  const push = (s: string): void => {
    length.n += s.length;
    if (length.n > MAX_GENERATED_LENGTH)
      throw expressionLimitError(
        'random',
        'output-size',
        `the pattern generates more than ${MAX_GENERATED_LENGTH} characters`,
      );
    out.push(s);
  };
  // An explicit stack: the tree is as deep as the groups nest (bounded), but repeats multiply the work.
  const stack: Node[] = [node];
  // Repeats of parts that generate nothing (`(^){1000}`) cost work without output; bound the work too.
  let steps = 0;
  while (stack.length > 0) {
    if (++steps > 16 * MAX_GENERATED_LENGTH)
      throw expressionLimitError('random', 'output-size', 'the pattern expands to too many steps');
    const n = stack.pop()!;
    switch (n.kind) {
      case 'class': {
        const total = n.ranges.reduce((acc, [a, b]) => acc + (b - a + 1), 0);
        if (total <= 0) throw new Error('empty character class');
        let pick = randomInt(total);
        for (const [a, b] of n.ranges) {
          if (pick <= b - a) {
            push(String.fromCodePoint(a + pick));
            break;
          }
          pick -= b - a + 1;
        }
        break;
      }
      case 'seq':
        for (let i = n.items.length - 1; i >= 0; i--) stack.push(n.items[i]!);
        break;
      case 'alt':
        stack.push(n.options[randomInt(n.options.length)]!);
        break;
      case 'repeat': {
        const count = n.min + randomInt(n.max - n.min + 1);
        // Checked before expanding: a repeat whose copies could not fit never allocates them.
        if (length.n + count > MAX_GENERATED_LENGTH || stack.length + count > MAX_GENERATED_LENGTH)
          throw expressionLimitError(
            'random',
            'output-size',
            `the pattern generates more than ${MAX_GENERATED_LENGTH} characters`,
          );
        for (let i = 0; i < count; i++) stack.push(n.node);
        break;
      }
    }
  }
}

/** A random string that `pattern` matches. */
export function randomFromPattern(pattern: string): string {
  if (pattern === '') throw new JmesPathFunctionError('random', 'no pattern provided');
  if (pattern.length > MAX_PATTERN_LENGTH)
    throw expressionLimitError(
      'random',
      'input-size',
      `pattern of ${pattern.length} characters is over the ${MAX_PATTERN_LENGTH}-character limit`,
    );
  const re2 = goRegexpError(pattern);
  if (re2 !== undefined) throw new JmesPathFunctionError('random', re2);
  let tree: Node;
  try {
    tree = new PatternReader(pattern).parse();
  } catch (e) {
    throw new JmesPathFunctionError('random', `unsupported pattern: ${(e as Error).message}`);
  }
  const out: string[] = [];
  try {
    generate(tree, out, { n: 0 });
  } catch (e) {
    if (e instanceof JmesPathFunctionError) throw e;
    throw new JmesPathFunctionError('random', (e as Error).message);
  }
  return out.join('');
}

// ---------------------------------------------------------------------------------------------------------------
// x509_decode

const NAME_OIDS: Readonly<Record<string, [string, number[]]>> = {
  C: ['Country', [2, 5, 4, 6]],
  O: ['Organization', [2, 5, 4, 10]],
  OU: ['OrganizationalUnit', [2, 5, 4, 11]],
  L: ['Locality', [2, 5, 4, 7]],
  ST: ['Province', [2, 5, 4, 8]],
  street: ['StreetAddress', [2, 5, 4, 9]],
  postalCode: ['PostalCode', [2, 5, 4, 17]],
  serialNumber: ['SerialNumber', [2, 5, 4, 5]],
  CN: ['CommonName', [2, 5, 4, 3]],
};

/** Go's pkix.Name as encoding/json writes it: absent lists are null. */
function pkixName(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Country: null,
    Organization: null,
    OrganizationalUnit: null,
    Locality: null,
    Province: null,
    StreetAddress: null,
    PostalCode: null,
    SerialNumber: '',
    CommonName: '',
    Names: [] as unknown[],
    ExtraNames: null,
  };
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    const known = NAME_OIDS[key];
    if (known === undefined) continue;
    const [field, oid] = known;
    (out['Names'] as unknown[]).push({ Type: oid, Value: value });
    if (field === 'CommonName' || field === 'SerialNumber') out[field] = value;
    else ((out[field] ??= []) as unknown[]).push(value);
  }
  return out;
}

const EXT_KEY_USAGE: Readonly<Record<string, number>> = {
  '2.5.29.37.0': 0,
  '1.3.6.1.5.5.7.3.1': 1,
  '1.3.6.1.5.5.7.3.2': 2,
  '1.3.6.1.5.5.7.3.3': 3,
  '1.3.6.1.5.5.7.3.4': 4,
  '1.3.6.1.5.5.7.3.8': 8,
  '1.3.6.1.5.5.7.3.9': 9,
};

function rfc3339(date: string): string {
  return new Date(date).toISOString().replace('.000Z', 'Z');
}

function fromBase64Url(s: string): bigint {
  const hex = Buffer.from(s, 'base64url').toString('hex');
  return hex === '' ? 0n : BigInt(`0x${hex}`);
}

/** Kyverno's x509_decode of a PEM certificate, with the fields node:crypto exposes. */
export function x509Decode(pem: string): Record<string, unknown> {
  if (pem.length > MAX_DECODE_INPUT)
    throw expressionLimitError(
      'x509_decode',
      'input-size',
      `input of ${pem.length} characters is over the ${MAX_DECODE_INPUT}-character limit`,
    );
  const block = /-----BEGIN ([A-Z ]+)-----/.exec(pem);
  if (block === null) throw new JmesPathFunctionError('x509_decode', 'failed to decode PEM block');
  if (block[1] === 'CERTIFICATE REQUEST')
    throw new JmesPathFunctionError('x509_decode', 'CERTIFICATE REQUEST is not supported by kyverno-runtime');
  if (block[1] !== 'CERTIFICATE')
    throw new JmesPathFunctionError(
      'x509_decode',
      'PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST',
    );
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (e) {
    throw new JmesPathFunctionError('x509_decode', (e as Error).message);
  }
  const key = cert.publicKey;
  if (key.asymmetricKeyType !== 'rsa')
    throw new JmesPathFunctionError('x509_decode', 'certificate should use rsa algorithm');
  const jwk = key.export({ format: 'jwk' });
  const alt = (cert.subjectAltName ?? '').split(', ').filter((s) => s !== '');
  const altOf = (prefix: string) => {
    const v = alt.filter((s) => s.startsWith(prefix)).map((s) => s.slice(prefix.length));
    return v.length === 0 ? null : v;
  };
  const ips = altOf('IP Address:');
  const usages = (cert.keyUsage ?? []).map((oid) => EXT_KEY_USAGE[oid]).filter((u) => u !== undefined);
  return {
    Raw: cert.raw.toString('base64'),
    // x509.RSA
    PublicKeyAlgorithm: 1,
    PublicKey: { N: fromBase64Url(jwk.n ?? '').toString(10), E: Number(fromBase64Url(jwk.e ?? '')) },
    // Go writes the serial as a JSON number; Kyverno reads it back as a float64.
    SerialNumber: Number(BigInt(`0x${cert.serialNumber}`)),
    Issuer: pkixName(cert.issuer),
    Subject: pkixName(cert.subject),
    NotBefore: rfc3339(cert.validFrom),
    NotAfter: rfc3339(cert.validTo),
    ExtKeyUsage: usages.length === 0 ? null : usages,
    IsCA: cert.ca,
    DNSNames: altOf('DNS:'),
    EmailAddresses: altOf('email:'),
    IPAddresses: ips === null ? null : ips.map((ip) => (isIPv4(ip) ? ip : ip.toLowerCase())),
    URIs: altOf('URI:'),
  };
}

export const generateFunctions: readonly KyvernoFunction[] = [
  fn('random', 1, 1, 'random(pattern): a random string the RE2 pattern matches (goregen)', (a) =>
    randomFromPattern(argString('random', a, 0)),
  ),
  fn('x509_decode', 1, 1, 'x509_decode(pem): the certificate as an object (RSA keys)', (a) =>
    x509Decode(argString('x509_decode', a, 0)),
  ),
];
