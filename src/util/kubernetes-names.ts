/**
 * Kubernetes' syntax for names and labels (apimachinery's validation), in one place: a value that
 * fails here would be refused by the API server, so callers refuse or ignore it before sending it.
 */

/** RFC 1123 label: a namespace name. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** RFC 1123 subdomain (dot-separated labels), at most 253 characters: most object names. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export function isDnsLabel(s: string): boolean {
  return DNS_LABEL.test(s);
}

export function isDnsSubdomain(s: string): boolean {
  return s.length <= 253 && DNS_SUBDOMAIN.test(s);
}

/** A label (or annotation) key: an optional DNS-subdomain prefix and "/", then a name of ≤ 63. */
export function isLabelKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash < 0) return LABEL_NAME.test(key);
  return isDnsSubdomain(key.slice(0, slash)) && LABEL_NAME.test(key.slice(slash + 1));
}

/** A label value: empty, or ≤ 63 of [A-Za-z0-9-_.] starting and ending alphanumeric. */
export function isLabelValue(value: string): boolean {
  return LABEL_VALUE.test(value);
}
