/**
 * webhook: POST the verdict as JSON to an HTTPS endpoint, with an optional bearer token read from a
 * Secret (cached for a minute). No shell, ever: the URL is used as a URL, never interpolated into a
 * command. Plain http:// is refused unless the executor allows it (tests, loopback receivers).
 */
import { LRUCache } from 'lru-cache';
import type { ActionContext, ActionHandler } from './context.js';
import type { WebhookAction } from '../contracts/actions.js';

const tokens = new LRUCache<string, string>({ max: 100, ttl: 60_000 });

async function tokenFor(spec: WebhookAction, ctx: ActionContext): Promise<string | undefined> {
  const ref = spec.secretRef;
  if (!ref) return undefined;
  const namespace = ref.namespace ?? ctx.webhook.namespace;
  const key = ref.key ?? 'token';
  const cacheKey = `${namespace}/${ref.name}/${key}`;
  const cached = tokens.get(cacheKey);
  if (cached !== undefined) return cached;
  const secret = await ctx.clients.core.readNamespacedSecret({ name: ref.name, namespace });
  const data = secret.data?.[key];
  if (data === undefined) throw new Error(`secret ${namespace}/${ref.name} has no key ${key}`);
  const token = Buffer.from(data, 'base64').toString('utf8').trim();
  tokens.set(cacheKey, token);
  return token;
}

export const webhook: ActionHandler<WebhookAction> = async (spec, ctx) => {
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch {
    return { outcome: 'failed', detail: 'invalid url' };
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && ctx.webhook.allowInsecureHttp)) {
    return { outcome: 'failed', detail: `refusing ${url.protocol} webhook: https only` };
  }
  if (ctx.dryRun) return { outcome: 'dry-run', detail: `would POST to ${url.host}` };
  const token = await tokenFor(spec, ctx);
  const { event: ev, ...rest } = ctx.verdict;
  const body = JSON.stringify({
    apiVersion: 'runtime.kyverno.io/v1alpha1',
    kind: 'Verdict',
    ...rest,
    event: { ...ev, raw: undefined },
  });
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
    },
    body,
    signal: AbortSignal.timeout((spec.timeoutSeconds ?? 5) * 1000),
    redirect: 'error',
  });
  // The receiver's answer is not used: discard it without buffering.
  await res.body?.cancel();
  if (!res.ok) return { outcome: 'failed', detail: `${url.host} answered ${res.status}` };
  return { outcome: 'succeeded', detail: `POST ${url.host} ${res.status}` };
};
