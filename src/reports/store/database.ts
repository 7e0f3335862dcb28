/**
 * The store's database handle: a private file, WAL journal, foreign keys, and the schema migrated.
 * Shared by the write side (store-writer.ts) and the read side (store-queries.ts).
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import { migrate } from './schema.js';

/** Opens the database at `path` (":memory:" for a throwaway one) and migrates it. */
export function openDatabase(path: string, synchronous: 'NORMAL' | 'FULL'): Database {
  if (path !== ':memory:') createPrivateFile(path);
  const db = new BetterSqlite3(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.pragma('foreign_keys = ON');
    // Another process (a second `run`, a backup) may hold the write lock briefly.
    db.pragma('busy_timeout = 5000');
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Checkpoints the WAL into the main file and closes the handle. */
export function closeDatabase(db: Database): void {
  try {
    db.pragma('optimize');
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

/**
 * The database file is created 0600 before SQLite opens it (its -wal and -shm take the main file's
 * mode), in a directory created 0700: it holds full command lines. A file left by an older version
 * is narrowed the same way.
 */
function createPrivateFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`])
    if (existsSync(file)) chmodSync(file, 0o600);
}
