/**
 * Kyverno's CEL libraries that read outside data (kyverno/sdk extensions/cel/libs): `resource.Get/List`,
 * `image.GetMetadata`, `time.now()`. The data comes from a CelHost given per evaluation (the CLI's context file,
 * the cluster cache, or nothing); without one, these calls raise an evaluation error, so the rule reports `error`.
 */
import type { Environment } from '@marcbachmann/cel-js';
import { toCel } from './values.js';

/** Data sources for Kyverno's context-reading CEL functions. */
export interface CelHost {
  /** `resource.Get(apiVersion, resource, namespace, name)`; undefined when not found. */
  getResource?(apiVersion: string, resource: string, namespace: string, name: string): unknown;
  /** `resource.List(apiVersion, resource, namespace)`: the items. */
  listResources?(apiVersion: string, resource: string, namespace: string): unknown[];
  /** `image.GetMetadata(ref)`: the OCI config/manifest document. */
  imageMetadata?(ref: string): unknown;
  /** `time.now()`; the system clock when absent. */
  now?(): Date;
}

class ResourceNamespace {}
class ImageNamespace {}
class TimeNamespace {}

let currentHost: CelHost | undefined;

/** Runs `fn` with `host` visible to the library functions (evaluation is synchronous). */
export function withCelHost<T>(host: CelHost | undefined, fn: () => T): T {
  const saved = currentHost;
  currentHost = host;
  try {
    return fn();
  } finally {
    currentHost = saved;
  }
}

function need<K extends keyof CelHost>(name: K, call: string): NonNullable<CelHost[K]> {
  const f = currentHost?.[name];
  if (f === undefined) throw new Error(`${call}: no data source is configured for this evaluation`);
  return f.bind(currentHost) as NonNullable<CelHost[K]>;
}

export function registerKyvernoLibrary(env: Environment): void {
  env.registerType('ResourceNamespace', ResourceNamespace);
  env.registerConstant('resource', 'ResourceNamespace', new ResourceNamespace());
  env.registerFunction(
    'ResourceNamespace.Get(string, string, string, string): map',
    (_: unknown, apiVersion: string, resource: string, namespace: string, name: string) => {
      const r = need('getResource', 'resource.Get')(apiVersion, resource, namespace, name);
      if (r === undefined || r === null)
        throw new Error(`resource.Get: ${resource} ${namespace}/${name} not found`);
      return toCel(r);
    },
  );
  env.registerFunction(
    'ResourceNamespace.List(string, string, string): map',
    (_: unknown, apiVersion: string, resource: string, namespace: string) => ({
      items: toCel(need('listResources', 'resource.List')(apiVersion, resource, namespace)),
    }),
  );

  env.registerType('ImageNamespace', ImageNamespace);
  env.registerConstant('image', 'ImageNamespace', new ImageNamespace());
  env.registerFunction('ImageNamespace.GetMetadata(string): map', (_: unknown, ref: string) => {
    const m = need('imageMetadata', 'image.GetMetadata')(ref);
    if (m === undefined || m === null) throw new Error(`image.GetMetadata: no metadata for ${ref}`);
    return toCel(m);
  });

  env.registerType('TimeNamespace', TimeNamespace);
  env.registerConstant('time', 'TimeNamespace', new TimeNamespace());
  env.registerFunction(
    'TimeNamespace.now(): google.protobuf.Timestamp',
    () => currentHost?.now?.() ?? new Date(),
  );
}
