/**
 * Local mode's external data (`--context-file`, a runtime test's `context:`): what cluster mode reads
 * from the API server, written down. Documents:
 *   - ConfigMap objects (v1): served to `configMap` entries and to GETs of their API path;
 *   - a Kyverno CLI `kind: Context` document: `spec.resources` (objects, also for CEL resource.Get /
 *     List), `spec.images`, and our `spec.apiCalls: [{urlPath, response}]` and
 *     `spec.globalReferences: [{name, data}]`.
 * Bounded: the file by the policy file cap, each object or answer by MAX_CONTEXT_VALUE_BYTES
 * (Kubernetes' own ConfigMap limit); a larger one is an error at file:line:col, never loaded.
 */
import type { ContextProvider } from '../engine/api/runtime.js';
import { readPolicyFile } from './read-file.js';
import { parseYamlDocuments } from './yaml-source.js';
import type { PolicyError } from './index.js';
import { contextHost } from './kyverno-test/context-host.js';

export const MAX_CONTEXT_VALUE_BYTES = 1024 * 1024;

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export interface ContextFile {
  provider: ContextProvider;
  errors: PolicyError[];
}

export async function loadContextFiles(files: readonly string[]): Promise<ContextFile> {
  const errors: PolicyError[] = [];
  const objects: Raw[] = [];
  const apiCalls = new Map<string, unknown>();
  const globals = new Map<string, unknown>();
  const images: Raw[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readPolicyFile(file);
    } catch (e) {
      errors.push({
        file,
        line: 1,
        col: 1,
        message: `cannot read: ${e instanceof Error ? e.message : String(e)}`,
      });
      continue;
    }
    for (const sd of parseYamlDocuments(text, file)) {
      for (const e of sd.syntaxErrors)
        errors.push({ file, line: e.line, col: e.col, message: `YAML: ${e.message}` });
      const doc = sd.value;
      if (!isObj(doc)) continue;
      const tooBig = (value: unknown, path: (string | number)[], what: string): boolean => {
        const size = Buffer.byteLength(JSON.stringify(value) ?? '');
        if (size <= MAX_CONTEXT_VALUE_BYTES) return false;
        const { line, col } = sd.locate(path);
        errors.push({
          file,
          line,
          col,
          message: `${what} is ${size} bytes, over the ${MAX_CONTEXT_VALUE_BYTES}-byte limit`,
        });
        return true;
      };
      if (doc.kind === 'Context') {
        const spec = isObj(doc.spec) ? doc.spec : {};
        (Array.isArray(spec.resources) ? spec.resources : []).forEach((r, i) => {
          if (isObj(r) && !tooBig(r, ['spec', 'resources', i], 'resource')) objects.push(r);
        });
        if (Array.isArray(spec.images)) images.push(...spec.images.filter(isObj));
        (Array.isArray(spec.apiCalls) ? spec.apiCalls : []).forEach((c, i) => {
          if (!isObj(c) || typeof c.urlPath !== 'string') {
            const { line, col } = sd.locate(['spec', 'apiCalls', i]);
            errors.push({ file, line, col, message: 'an apiCalls entry is {urlPath, response}' });
          } else if (!tooBig(c.response, ['spec', 'apiCalls', i], 'apiCall response'))
            apiCalls.set(c.urlPath, c.response);
        });
        (Array.isArray(spec.globalReferences) ? spec.globalReferences : []).forEach((g, i) => {
          if (!isObj(g) || typeof g.name !== 'string') {
            const { line, col } = sd.locate(['spec', 'globalReferences', i]);
            errors.push({ file, line, col, message: 'a globalReferences entry is {name, data}' });
          } else if (!tooBig(g.data, ['spec', 'globalReferences', i], 'global context data'))
            globals.set(g.name, g.data);
        });
      } else if (typeof doc.kind === 'string' && typeof doc.apiVersion === 'string') {
        if (!tooBig(doc, [], `${doc.kind} ${str(isObj(doc.metadata) ? doc.metadata.name : '')}`))
          objects.push(doc);
      }
    }
  }
  const configMaps = new Map<string, Raw>();
  for (const o of objects) {
    if (o.kind !== 'ConfigMap') continue;
    const md = isObj(o.metadata) ? o.metadata : {};
    configMaps.set(`${str(md.namespace) || 'default'}/${str(md.name)}`, o);
  }
  const cel = contextHost({ spec: { resources: objects, images } });
  const provider: ContextProvider = {
    configMap: (namespace, name) => configMaps.get(`${namespace}/${name}`),
    apiCall: (urlPath) => {
      if (apiCalls.has(urlPath)) return apiCalls.get(urlPath);
      // A GET of a ConfigMap's own path answers with the ConfigMap.
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/configmaps\/([^/]+)$/.exec(urlPath);
      return m ? configMaps.get(`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`) : undefined;
    },
    globalReference: (name) => globals.get(name),
    cel,
  };
  return { provider, errors };
}
