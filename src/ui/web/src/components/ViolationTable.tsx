/** The violations table: rows are focusable; Enter or a click opens the details. */
import type { ViolationSummary } from '../api.js';
import { navigate } from '../router.js';
import { commandLine, nf, relativeTime, resourceLabel } from '../format.js';
import { ModeBadge, Chip, ResultBadge } from './Badges.js';

export function ViolationTable({ items, fresh }: { items: ViolationSummary[]; fresh: ReadonlySet<number> }) {
  const open = (id: number): void => navigate(`/violations/${id}`);
  return (
    <table class="violations">
      <thead>
        <tr>
          <th scope="col">Policy / rule</th>
          <th scope="col">Resource</th>
          <th scope="col">Behavior</th>
          <th scope="col">Process</th>
          <th scope="col">Result</th>
          <th scope="col">Mode</th>
          <th scope="col" class="num">
            Count
          </th>
          <th scope="col">Last seen</th>
        </tr>
      </thead>
      <tbody>
        {items.map((v) => (
          <tr
            key={v.id}
            tabIndex={0}
            class={
              [fresh.has(v.id) ? 'fresh' : '', v.result === 'skip' ? 'skipped' : ''].join(' ').trim() ||
              undefined
            }
            data-violation-id={v.id}
            data-result={v.result}
            aria-label={`${v.policy} ${v.rule} on ${resourceLabel(v.resource)}${
              v.result === 'skip' ? ` (skipped: exempted by ${v.exception ?? 'an exception'})` : ''
            }: ${v.message}`}
            onClick={() => open(v.id)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') open(v.id);
            }}
          >
            <td>
              <div class="strong">{v.policy}</div>
              <div class="muted small">{v.rule}</div>
            </td>
            <td>
              <div>{resourceLabel(v.resource)}</div>
              {v.container ? <div class="muted small">{v.container}</div> : null}
            </td>
            <td>
              <Chip>{v.behavior}</Chip>
            </td>
            <td class="mono small clip" title={commandLine(v.process?.binary, v.process?.args)}>
              {v.process?.binary ?? '—'}
            </td>
            <td>
              <ResultBadge result={v.result} exception={v.exception} />
              {v.exception ? <div class="muted small">{v.exception}</div> : null}
            </td>
            <td>
              <ModeBadge mode={v.mode} />
            </td>
            <td class="num">{nf.format(v.count)}</td>
            <td class="small" title={v.lastSeen}>
              {relativeTime(v.updatedAt)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
