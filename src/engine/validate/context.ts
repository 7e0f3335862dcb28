/**
 * The JSON context that `{{ }}` variables, conditions and JMESPath read (Kyverno's `enginecontext`):
 * `request.*`, `images`, `serviceAccountName`, values from test files, rule `context` entries,
 * `element`/`elementIndex` inside foreach.
 */
import { KyvernoRuntimeError } from '../../contracts/errors.js';
import type { RequestUserInfo } from '../match/index.js';
import type { CompiledContextEntry } from '../api/compiled-policy.js';

export type JsonContext = Record<string, unknown>;
type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Raised when a context entry cannot be loaded (rule result: error). */
export class ContextLoadError extends KyvernoRuntimeError {
  constructor(message: string) {
    super('E_CONTEXT_LOAD', message);
  }
}

/** Sets `a.b.c` in a nested object, creating maps on the way (Kyverno's `AddVariable`). */
export function setDotted(target: JsonContext, key: string, value: unknown): void {
  const parts = key.split('.');
  let node: Raw = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (!isObj(next)) node[part] = {};
    node = node[part] as Raw;
  }
  node[parts[parts.length - 1]!] = value;
}

export interface ImageInfo {
  registry: string;
  path: string;
  name: string;
  tag: string;
  digest: string;
  reference: string;
  referenceWithTag: string;
}

/** Kyverno's image reference parsing (default registry docker.io, default tag latest). */
export function parseImage(image: string): ImageInfo {
  let rest = image;
  let digest = '';
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let registry = 'docker.io';
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      registry = first;
      rest = rest.slice(slash + 1);
    }
  }
  let tag = '';
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  if (tag === '' && digest === '') tag = 'latest';
  const name = rest.slice(rest.lastIndexOf('/') + 1);
  const base = `${registry}/${rest}`;
  const referenceWithTag = tag ? `${base}:${tag}` : base;
  return {
    registry,
    path: rest,
    name,
    tag,
    digest,
    reference: digest ? `${base}@${digest}` : referenceWithTag,
    referenceWithTag,
  };
}

const imagesCache = new WeakMap<object, Raw | null>();

/** `images.{containers,initContainers,ephemeralContainers}.<name>` for pods and pod controllers (memoised per object). */
export function imagesOf(resource: Raw): Raw | undefined {
  const cached = imagesCache.get(resource);
  if (cached !== undefined) return cached ?? undefined;
  const images = computeImages(resource);
  imagesCache.set(resource, images ?? null);
  return images;
}

function computeImages(resource: Raw): Raw | undefined {
  const spec = isObj(resource.spec) ? resource.spec : undefined;
  if (!spec) return undefined;
  let podSpec: unknown = spec;
  if (resource.kind === 'CronJob') {
    podSpec = (((spec.jobTemplate as Raw | undefined)?.spec as Raw | undefined)?.template as Raw | undefined)
      ?.spec;
  } else if (resource.kind !== 'Pod') {
    podSpec = (spec.template as Raw | undefined)?.spec;
  }
  if (!isObj(podSpec)) return undefined;
  const out: Raw = {};
  for (const field of ['containers', 'initContainers', 'ephemeralContainers']) {
    const list = podSpec[field];
    if (!Array.isArray(list)) continue;
    const byName: Raw = {};
    for (const c of list) {
      if (isObj(c) && typeof c.name === 'string' && typeof c.image === 'string')
        byName[c.name] = parseImage(c.image);
    }
    if (Object.keys(byName).length > 0) out[field] = byName;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

export interface BaseContextInput {
  resource: Raw;
  oldObject?: unknown;
  operation?: string;
  userInfo?: RequestUserInfo;
  /** Variables from values files (dotted keys allowed), applied last. */
  variables?: Record<string, unknown>;
}

export function buildBaseContext(input: BaseContextInput): JsonContext {
  const md = isObj(input.resource.metadata) ? input.resource.metadata : {};
  const user = input.userInfo ?? {};
  const username = user.username ?? '';
  // Kyverno serialises the admission user info with omitempty: absent fields stay absent (not []).
  const userInfo: Raw = {};
  if (username) userInfo.username = username;
  if (user.groups?.length) userInfo.groups = user.groups;
  const request: Raw = {
    operation: input.operation ?? 'CREATE',
    object: input.resource,
    oldObject: input.oldObject ?? null,
    userInfo,
    roles: user.roles ?? null,
    clusterRoles: user.clusterRoles ?? null,
  };
  if (typeof md.namespace === 'string') request.namespace = md.namespace;
  const ctx: JsonContext = { request };
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
  ctx.serviceAccountName = sa ? sa[2] : '';
  ctx.serviceAccountNamespace = sa ? sa[1] : '';
  const images = imagesOf(input.resource);
  if (images) ctx.images = images;
  for (const [k, v] of Object.entries(input.variables ?? {})) setDotted(ctx, k, v);
  return ctx;
}

/**
 * Loads rule/foreach `context` entries into `ctx` (mutated). `variable` entries are evaluated; the others
 * (apiCall, configMap, imageRegistry, globalReference) need a cluster or registry, so their data comes from
 * values (as in Kyverno's CLI mock mode): an entry whose name is already set is kept as is.
 */
export function loadContextEntries(
  entries: readonly CompiledContextEntry[],
  ctx: JsonContext,
  provided: ReadonlySet<string>,
): void {
  for (const entry of entries) {
    if (provided.has(entry.name) || entry.type !== 'variable') continue;
    const def = entry.default ? entry.default.render(ctx) : undefined;
    const query = entry.jmesPath;
    let output: unknown = def;
    try {
      if (entry.value) {
        const value = entry.value.render(ctx);
        output = query ? query.evaluate(value, ctx) : value;
      } else if (query) {
        output = query.evaluate(ctx, ctx);
      }
    } catch (e) {
      if (def === undefined || def === null) throw e;
      output = def;
    }
    if ((output === null || output === undefined) && def !== undefined) output = def;
    if (output === undefined || output === null) {
      throw new ContextLoadError(
        `failed to add context entry for variable ${entry.name}: it evaluated to nil`,
      );
    }
    setDotted(ctx, entry.name, output);
  }
}
