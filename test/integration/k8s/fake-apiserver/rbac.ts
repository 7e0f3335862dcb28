/**
 * RBAC for the fake API server, from ClusterRole/Role rules (the chart's own, as helm renders them):
 * a request whose verb on group/resource[/subresource] (and name, for resourceNames) no rule grants
 * gets the real server's 403 Forbidden. Discovery is always allowed (system:discovery).
 */
export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface RbacRequest {
  verb: string;
  group: string;
  /** "pods" or "pods/status". */
  resource: string;
  namespace?: string;
  name?: string;
}

interface Grant {
  rule: PolicyRule;
  /** Role rules apply in this namespace only; ClusterRole rules everywhere. */
  namespace?: string;
}

export class RbacTable {
  private readonly grants: Grant[] = [];

  constructor(
    readonly user: string,
    manifests: readonly Record<string, unknown>[],
  ) {
    for (const m of manifests) {
      const rules = (m.rules ?? []) as PolicyRule[];
      if (m.kind === 'ClusterRole') for (const rule of rules) this.grants.push({ rule });
      else if (m.kind === 'Role') {
        const ns = (m.metadata as { namespace?: string } | undefined)?.namespace;
        for (const rule of rules) this.grants.push({ rule, namespace: ns });
      }
    }
  }

  allows(r: RbacRequest): boolean {
    return this.grants.some(({ rule, namespace }) => {
      if (namespace !== undefined && r.namespace !== namespace) return false;
      const has = (list: string[] | undefined, v: string): boolean =>
        list !== undefined && (list.includes(v) || list.includes('*'));
      if (!has(rule.apiGroups, r.group) || !has(rule.resources, r.resource) || !has(rule.verbs, r.verb))
        return false;
      if (rule.resourceNames !== undefined && rule.resourceNames.length > 0)
        return r.name !== undefined && rule.resourceNames.includes(r.name);
      return true;
    });
  }

  /** The real API server's message for a denied request. */
  message(r: RbacRequest): string {
    const [resource, sub] = r.resource.split('/');
    const what = `${r.name !== undefined ? `${resource}${r.group ? '.' + r.group : ''} "${r.name}"` : `${resource}${r.group ? '.' + r.group : ''}`} is forbidden`;
    const scope = r.namespace !== undefined ? ` in the namespace "${r.namespace}"` : ' at the cluster scope';
    return `${what}: User "${this.user}" cannot ${r.verb} resource "${resource}"${sub ? `/${sub}` : ''} in API group "${r.group}"${scope}`;
  }
}

/** The RBAC verb of a request (watch and list are lists with ?watch). */
export function verbOf(method: string, hasName: boolean, watch: boolean): string {
  switch (method) {
    case 'GET':
      return watch ? 'watch' : hasName ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return hasName ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}
