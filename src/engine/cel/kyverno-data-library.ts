/**
 * Kyverno's CEL libraries that work on values alone (kyverno/sdk extensions/cel/libs): `image` (image
 * references, as go-containerregistry's name.ParseReference reads them), `user` (`parseServiceAccount`),
 * `hash` (`sha1`, `sha256`, `md5`, hex), `json` (`json.unmarshal`, `json.marshal`) and `yaml` (`yaml.parse`).
 * The decoders are bounded (../expression-limits.ts): their input is often event data.
 */
import { createHash } from 'node:crypto';
import type { Environment } from '@marcbachmann/cel-js';
import { parse as parseYaml } from 'yaml';
import { checkBracketDepth, checkDecodeInput, checkValueDepth } from '../expression-limits.js';
import { boundedMemo, fromCel, toCel } from './values.js';

// ---------------------------------------------------------------------------------------------------------------
// image references

/** A parsed image reference (go-containerregistry's name.Reference, as Kyverno's image library exposes it). */
export class CelImage {
  toCelText(): string {
    return this.toString();
  }
  constructor(
    readonly registry: string,
    readonly repository: string,
    /** The tag as written, or `latest` when neither tag nor digest is given; '' for a digest-only reference. */
    readonly tag: string,
    readonly digest: string,
  ) {}
  toString(): string {
    const base = `${this.registry}/${this.repository}`;
    if (this.digest !== '') return `${base}${this.tag === '' ? '' : `:${this.tag}`}@${this.digest}`;
    return `${base}:${this.tag}`;
  }
}

const DEFAULT_REGISTRY = 'index.docker.io';
const MAX_REFERENCE_LENGTH = 4096;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const REPOSITORY = /^[a-z0-9_.\-/]{2,255}$/;
// A host name or IPv4 address, or a bracketed IPv6 address, with an optional port.
const REGISTRY =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?$/;

/**
 * Hand-written because no npm package parses references exactly as go-containerregistry does (the registry
 * is the first component only when it has a `.` or `:` or is `localhost`; Docker Hub names get `library/`;
 * `docker.io` is `index.docker.io`; only sha256 digests). Returns a reason on failure.
 */
export function parseImageReference(ref: string): CelImage | string {
  const fail = `could not parse reference: ${ref}`;
  if (ref.length === 0 || ref.length > MAX_REFERENCE_LENGTH) return fail;
  let rest = ref;
  let digest = '';
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return fail;
  }
  let tag = '';
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return fail;
  }
  let registry = DEFAULT_REGISTRY;
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      registry = first === 'docker.io' ? DEFAULT_REGISTRY : first;
      repository = rest.slice(slash + 1);
      if (!REGISTRY.test(registry)) return fail;
    }
  }
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) repository = `library/${repository}`;
  if (!REPOSITORY.test(repository) || repository.split('/').some((c) => c === '')) return fail;
  if (tag === '' && digest === '') tag = 'latest';
  return new CelImage(registry, repository, tag, digest);
}

const parseImageMemo = boundedMemo(parseImageReference);

function imageOf(s: string): CelImage {
  const r = parseImageMemo(s);
  if (typeof r === 'string') throw new Error(r);
  return r;
}

function registerImage(env: Environment): void {
  env.registerType('kyverno.Image', CelImage);
  // `image(…)` is Kyverno's deprecated alias of parseImageReference; `image.GetMetadata` (the constant
  // `image`) lives in kyverno-library.ts.
  env.registerFunction('image(string): kyverno.Image', imageOf);
  env.registerFunction('parseImageReference(string): kyverno.Image', imageOf);
  env.registerFunction('isImage(string): bool', (s: string) => typeof parseImageMemo(s) !== 'string');
  env.registerFunction('kyverno.Image.registry(): string', (i: CelImage) => i.registry);
  env.registerFunction('kyverno.Image.repository(): string', (i: CelImage) => i.repository);
  env.registerFunction('kyverno.Image.tag(): string', (i: CelImage) => i.tag);
  env.registerFunction('kyverno.Image.digest(): string', (i: CelImage) => i.digest);
  env.registerFunction('kyverno.Image.containsDigest(): bool', (i: CelImage) => i.digest !== '');
  // The digest when there is one (Kyverno prefixes the tag when both are written), else the tag.
  env.registerFunction('kyverno.Image.identifier(): string', (i: CelImage) =>
    i.digest === '' ? i.tag : i.tag === '' ? i.digest : `${i.tag}@${i.digest}`,
  );
  env.registerFunction('string(kyverno.Image): string', (i: CelImage) => i.toString());
  env.registerOperator(
    'kyverno.Image == kyverno.Image',
    (a: CelImage, b: CelImage) => a.toString() === b.toString(),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// user, hash

class UserNamespace {}
class HashNamespace {}
class JsonNamespace {}
class YamlNamespace {}

const SA_PREFIX = 'system:serviceaccount:';

/** Kyverno's parse_service_account_string: the fields are Go's (`Namespace`, `Name`), empty when not a service account. */
function parseServiceAccount(user: string): Record<string, string> {
  let namespace = '';
  let name = '';
  if (user.startsWith(SA_PREFIX)) {
    const rest = user.slice(SA_PREFIX.length);
    const sep = rest.indexOf(':');
    if (sep >= 0) {
      namespace = rest.slice(0, sep);
      name = rest.slice(sep + 1);
    }
  }
  return { Namespace: namespace, Name: name };
}

const digest = (algorithm: string) => (s: string) => createHash(algorithm).update(s, 'utf8').digest('hex');

function registerUserAndHash(env: Environment): void {
  env.registerFunction('parseServiceAccount(string): map', parseServiceAccount);
  env.registerType('UserNamespace', UserNamespace);
  env.registerConstant('user', 'UserNamespace', new UserNamespace());
  env.registerFunction('UserNamespace.parseServiceAccount(string): map', (_: unknown, s: string) =>
    parseServiceAccount(s),
  );

  env.registerType('HashNamespace', HashNamespace);
  env.registerConstant('hash', 'HashNamespace', new HashNamespace());
  for (const algorithm of ['sha1', 'sha256', 'md5']) {
    const fn = digest(algorithm);
    env.registerFunction(`${algorithm}(string): string`, fn);
    env.registerFunction(`HashNamespace.${algorithm}(string): string`, (_: unknown, s: string) => fn(s));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// json, yaml

/** JSON with map keys sorted, as Go's encoding/json writes maps. */
function marshal(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(o)
          .sort()
          .map((k) => [k, sortKeys(o[k])]),
      );
    }
    return v;
  };
  const plain = fromCel(value);
  checkValueDepth('json.marshal', plain);
  return JSON.stringify(sortKeys(plain)) ?? 'null';
}

function unmarshal(text: string): unknown {
  checkDecodeInput('json.unmarshal', text);
  checkBracketDepth('json.unmarshal', text, true);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`json.unmarshal: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return toCel(value);
}

function yamlParse(text: string): unknown {
  checkDecodeInput('yaml.parse', text);
  checkBracketDepth('yaml.parse', text, false);
  let value: unknown;
  try {
    // Aliases are bounded by the library (maxAliasCount), so an alias bomb is an error, not a blow-up.
    value = parseYaml(text, { maxAliasCount: 100, uniqueKeys: false });
  } catch (e) {
    throw new Error(`yaml.parse: ${e instanceof Error ? e.message.split('\n')[0]! : String(e)}`, {
      cause: e,
    });
  }
  checkValueDepth('yaml.parse', value);
  return toCel(value);
}

function registerJsonYaml(env: Environment): void {
  env.registerType('JsonNamespace', JsonNamespace);
  env.registerConstant('json', 'JsonNamespace', new JsonNamespace());
  env.registerFunction('JsonNamespace.unmarshal(string): dyn', (_: unknown, s: string) => unmarshal(s));
  env.registerFunction('JsonNamespace.marshal(dyn): string', (_: unknown, v: unknown) => marshal(v));
  env.registerType('YamlNamespace', YamlNamespace);
  env.registerConstant('yaml', 'YamlNamespace', new YamlNamespace());
  env.registerFunction('YamlNamespace.parse(string): dyn', (_: unknown, s: string) => yamlParse(s));
}

export function registerKyvernoDataLibrary(env: Environment): void {
  registerImage(env);
  registerUserAndHash(env);
  registerJsonYaml(env);
}
