/**
 * webhook: POST the verdict as JSON to an HTTPS endpoint, with an optional bearer token read from a
 * Secret (cached for a minute). No shell, ever: the URL is used as a URL, never interpolated into a
 * command. Plain http:// is refused unless the executor allows it (tests, loopback receivers) or an
 * http:// allow-list prefix covers the URL.
 *
 * The destination is checked by WebhookDestinations on the address connected to (the request's
 * `lookup`), redirects are not followed (node:http never does), and a namespaced policy's token may
 * only come from a Secret in its own namespace.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { LRUCache } from 'lru-cache';
import { webhookRefused } from '../observability/metrics.js';
import type { ActionContext, ActionHandler, HandlerResult } from './context.js';
import type { WebhookAction } from '../contracts/actions.js';
import { WebhookDestinationRefused, WebhookDestinations } from './webhook-destination.js';

const tokens = new LRUCache<string, string>({ max: 100, ttl: 60_000 });
const DEFAULT_DESTINATIONS = new WebhookDestinations();

/** Why a secretRef may not be used by this verdict's policy, or undefined when it may. */
export function secretRefProblem(
  ref: NonNullable<WebhookAction['secretRef']>,
  policyNamespace: string | undefined,
): string | undefined {
  if (policyNamespace === undefined || ref.namespace === undefined || ref.namespace === policyNamespace)
    return undefined;
  return `a policy in namespace ${policyNamespace} may not read Secrets of namespace ${ref.namespace}`;
}

async function tokenFor(spec: WebhookAction, ctx: ActionContext): Promise<string | undefined> {
  const ref = spec.secretRef;
  if (!ref) return undefined;
  // A namespaced policy's Secret is in its own namespace; the release namespace is for cluster policies.
  const namespace = ref.namespace ?? ctx.verdict.policyNamespace ?? ctx.webhook.namespace;
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

function refuse(reason: string, detail: string): HandlerResult {
  webhookRefused.inc({ reason });
  return { outcome: 'failed', detail };
}

export const webhook: ActionHandler<WebhookAction> = async (spec, ctx) => {
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch {
    return refuse('invalid-url', 'invalid url');
  }
  const destinations = ctx.webhook.destinations ?? DEFAULT_DESTINATIONS;
  if (
    url.protocol !== 'https:' &&
    !(url.protocol === 'http:' && (ctx.webhook.allowInsecureHttp || destinations.allowsPlainHttp(url)))
  ) {
    return refuse('insecure-scheme', `refusing ${url.protocol} webhook: https only`);
  }
  if (spec.secretRef) {
    const problem = secretRefProblem(spec.secretRef, ctx.verdict.policyNamespace);
    if (problem !== undefined) return refuse('cross-namespace-secret', problem);
  }
  try {
    destinations.checkUrl(url);
  } catch (err) {
    if (err instanceof WebhookDestinationRefused) return refuse('destination-not-allowed', err.detail);
    throw err;
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
  let res: IncomingMessage;
  try {
    res = await post(url, body, token, destinations, (spec.timeoutSeconds ?? 5) * 1000);
  } catch (err) {
    if (err instanceof WebhookDestinationRefused) return refuse('destination-not-allowed', err.detail);
    throw err;
  }
  const status = res.statusCode ?? 0;
  // The receiver's answer is not used (nor a redirect's Location): discard it without buffering.
  res.resume();
  if (status < 200 || status >= 300) return { outcome: 'failed', detail: `${url.host} answered ${status}` };
  return { outcome: 'succeeded', detail: `POST ${url.host} ${status}` };
};

function post(
  url: URL,
  body: string,
  token: string | undefined,
  destinations: WebhookDestinations,
  timeoutMs: number,
): Promise<IncomingMessage> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
      },
      // Checked per connection, on what the name resolves to now (DNS rebinding).
      lookup: destinations.lookupFor(url),
      // A fresh connection per request: a pooled one would skip the lookup above.
      agent: false,
      signal: AbortSignal.timeout(timeoutMs),
    });
    req.once('response', resolve);
    req.once('error', reject);
    req.end(body);
  });
}
