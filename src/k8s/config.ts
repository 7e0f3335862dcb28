/**
 * Loads the Kubernetes client configuration explicitly. client-node's loadFromDefault() prefers
 * ~/.kube/config over the in-cluster service account and silently falls back to
 * http://localhost:8080; we choose in a fixed order and fail clearly instead. The result reuses
 * connections for every client made from it (api-clients.ts).
 */
import { KyvernoRuntimeError } from '../contracts/errors.js';
import { existsSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { KeepAliveKubeConfig } from './api-clients.js';

export interface KubeConfigOptions {
  /** Path to a kubeconfig file (--kubeconfig). */
  kubeconfig?: string;
  /** Context to use from it (--context). */
  context?: string;
  /** Force the in-cluster service account (--in-cluster). */
  inCluster?: boolean;
}

export class KubeConfigError extends KyvernoRuntimeError {
  constructor(message: string) {
    super('E_KUBECONFIG', message);
  }
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export function loadKubeConfig(
  options: KubeConfigOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): KubeConfig {
  const kc = new KeepAliveKubeConfig();
  if (options.kubeconfig !== undefined) {
    if (!existsSync(options.kubeconfig))
      throw new KubeConfigError(`kubeconfig ${options.kubeconfig} does not exist`);
    kc.loadFromFile(options.kubeconfig);
  } else if (
    options.inCluster === true ||
    (env.KUBERNETES_SERVICE_HOST !== undefined &&
      existsSync(SERVICE_ACCOUNT_TOKEN) &&
      env.KUBECONFIG === undefined)
  ) {
    if (env.KUBERNETES_SERVICE_HOST === undefined)
      throw new KubeConfigError('--in-cluster needs KUBERNETES_SERVICE_HOST (not running in a pod?)');
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
    const cluster = kc.getCurrentCluster();
    if (cluster === null || cluster.server === 'http://localhost:8080') {
      throw new KubeConfigError(
        'no Kubernetes configuration found: pass --kubeconfig, set KUBECONFIG, or run in a pod',
      );
    }
  }
  if (options.context !== undefined) {
    if (kc.getContextObject(options.context) === null) {
      throw new KubeConfigError(
        `context "${options.context}" not found in kubeconfig (have: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(', ') || 'none'
        })`,
      );
    }
    kc.setCurrentContext(options.context);
  }
  if (kc.getCurrentCluster() === null) throw new KubeConfigError('the current context names no cluster');
  return kc;
}
