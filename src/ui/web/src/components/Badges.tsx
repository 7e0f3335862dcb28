export function ModeBadge({ mode }: { mode: 'Audit' | 'Enforce' }) {
  return <span class={`badge mode-${mode.toLowerCase()}`}>{mode}</span>;
}

export function Chip({ children }: { children: string }) {
  return <span class="chip">{children}</span>;
}
