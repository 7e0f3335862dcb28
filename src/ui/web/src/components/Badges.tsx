export function ModeBadge({ mode }: { mode: 'Audit' | 'Enforce' }) {
  return <span class={`badge mode-${mode.toLowerCase()}`}>{mode}</span>;
}

export function Chip({ children }: { children: string }) {
  return <span class="chip">{children}</span>;
}

/**
 * A row's result: a verdict a PolicyException exempted is shown as skipped (naming the exception),
 * never as a violation.
 */
export function ResultBadge({ result, exception }: { result: string; exception?: string | undefined }) {
  const label = result === 'skip' ? 'skipped' : result;
  return (
    <span
      class={`badge result-${result}`}
      data-result={result}
      title={exception !== undefined ? `exempted by PolicyException ${exception}` : undefined}
    >
      {label}
    </span>
  );
}
