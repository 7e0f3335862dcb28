/** Filter → SQL WHERE (always parameterised) and the keyset cursor codec. */
import { KyvernoRuntimeError } from '../../contracts/errors.js';
import type { ViolationFilter } from './types.js';

export type SqlParams = (string | number)[];

export class CursorError extends KyvernoRuntimeError {
  constructor(message: string) {
    super('STORE_BAD_CURSOR', message);
  }
}

/** Escapes LIKE wildcards so a search for "50%" means the characters, not a pattern. */
function likeContains(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

const SEARCHED_COLUMNS = [
  'message',
  'policy',
  'rule',
  'resource_namespace',
  'resource_name',
  'container',
  'image',
  'process_binary',
  'process_args',
  'node',
] as const;

export function buildWhere(filter: ViolationFilter): { sql: string; params: SqlParams } {
  const clauses: string[] = [];
  const params: SqlParams = [];
  const eq = (column: string, value: string | undefined): void => {
    if (value === undefined || value === '') return;
    clauses.push(`${column} = ?`);
    params.push(value);
  };
  eq('policy', filter.policy);
  eq('rule', filter.rule);
  eq('resource_namespace', filter.namespace);
  eq('resource_name', filter.pod);
  eq('behavior', filter.behavior);
  eq('mode', filter.mode);
  eq('result', filter.result);
  if (filter.since !== undefined) {
    clauses.push('updated_at >= ?');
    params.push(filter.since);
  }
  const q = filter.q?.trim();
  if (q) {
    clauses.push(`(${SEARCHED_COLUMNS.map((c) => `${c} LIKE ? ESCAPE '\\'`).join(' OR ')})`);
    for (let i = 0; i < SEARCHED_COLUMNS.length; i++) params.push(likeContains(q));
  }
  return { sql: clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '', params };
}

/** Opaque to clients: "<updatedAt>.<id>" in base64url. */
export function encodeCursor(updatedAt: number, id: number): string {
  return Buffer.from(`${updatedAt}.${id}`).toString('base64url');
}

export function decodeCursor(cursor: string): { updatedAt: number; id: number } {
  const m = /^(\d{1,16})\.(\d{1,16})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m) throw new CursorError(`malformed cursor ${JSON.stringify(cursor.slice(0, 64))}`);
  return { updatedAt: Number(m[1]), id: Number(m[2]) };
}
