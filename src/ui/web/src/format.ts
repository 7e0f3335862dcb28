import type { ViolationSummary } from './api.js';

export function resourceLabel(r: ViolationSummary['resource']): string {
  return r.namespace ? `${r.namespace}/${r.name}` : `${r.kind.toLowerCase()}/${r.name}`;
}

export function relativeTime(ms: number, now = Date.now()): string {
  const s = Math.round((now - ms) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function commandLine(binary?: string, args?: string[]): string {
  return [binary ?? '?', ...(args ?? [])].join(' ');
}

export const nf = new Intl.NumberFormat();
