/**
 * A Kyverno CLI `kind: Context` file (`spec.resources`, `spec.images`) as the data source of CEL's
 * `resource.Get`/`resource.List` and `image.GetMetadata`, so CEL policies that look things up run offline.
 */
import type { CelHost } from '../../engine/cel/index.js';
import { pluralOf } from '../../engine/validate/validating-policy.js';

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export function contextHost(doc: unknown): CelHost {
  const spec = isObj(doc) && isObj(doc.spec) ? doc.spec : {};
  const resources = Array.isArray(spec.resources) ? spec.resources.filter(isObj) : [];
  const images = Array.isArray(spec.images) ? spec.images.filter(isObj) : [];
  const selected = (apiVersion: string, resource: string, namespace: string): Raw[] =>
    resources.filter((r) => {
      const md = isObj(r.metadata) ? r.metadata : {};
      return (
        str(r.apiVersion) === apiVersion &&
        pluralOf(str(r.kind)) === resource &&
        (namespace === '' || str(md.namespace) === namespace)
      );
    });
  return {
    getResource: (apiVersion, resource, namespace, name) =>
      selected(apiVersion, resource, namespace).find((r) => isObj(r.metadata) && r.metadata.name === name),
    listResources: (apiVersion, resource, namespace) => selected(apiVersion, resource, namespace),
    imageMetadata: (ref) => images.find((i) => i.image === ref),
  };
}
