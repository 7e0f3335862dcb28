/**
 * The store's schema, versioned with SQLite's `user_version`. Each migration runs once, in its own
 * transaction, in order; a database written by a newer version is refused rather than guessed at.
 */
import { KyvernoRuntimeError } from '../../contracts/errors.js';
import type { Database } from 'better-sqlite3';

/**
 * Kyverno's message for a rule a PolicyException exempts, followed by "[namespace/]name" (a
 * namespace is 63 characters at most, a name 253, "/" one: 317 in all; 507 leaves room).
 */
const SKIP_PREFIX = 'rule is skipped due to policy exception ';

interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'violations, actions, recent events, per-minute timeline',
    sql: `
      -- One row per (policy, rule, resource): Kyverno's report result shape, with the last event kept.
      CREATE TABLE violations (
        id                 INTEGER PRIMARY KEY,
        policy             TEXT    NOT NULL,
        policy_namespace   TEXT    NOT NULL DEFAULT '',
        rule               TEXT    NOT NULL,
        resource_key       TEXT    NOT NULL,
        resource_api_version TEXT  NOT NULL,
        resource_kind      TEXT    NOT NULL,
        resource_namespace TEXT    NOT NULL DEFAULT '',
        resource_name      TEXT    NOT NULL,
        resource_uid       TEXT,
        synthetic          INTEGER NOT NULL DEFAULT 0,
        mode               TEXT    NOT NULL,
        behavior           TEXT    NOT NULL,
        severity           TEXT,
        category           TEXT,
        message            TEXT    NOT NULL,
        container          TEXT,
        image              TEXT,
        node               TEXT,
        source             TEXT    NOT NULL,
        process_binary     TEXT,
        process_args       TEXT,
        process_pid        INTEGER,
        process_uid        INTEGER,
        parent_binary      TEXT,
        parent_args        TEXT,
        parent_pid         INTEGER,
        count              INTEGER NOT NULL,
        first_seen         TEXT    NOT NULL,
        last_seen          TEXT    NOT NULL,
        updated_at         INTEGER NOT NULL,
        last_event_id      TEXT    NOT NULL,
        UNIQUE (policy, policy_namespace, rule, resource_key)
      );
      -- The last event's JSON lives apart so scans and GROUP BYs over violations stay on small rows.
      CREATE TABLE violation_events (
        violation_id INTEGER PRIMARY KEY REFERENCES violations (id) ON DELETE CASCADE,
        json         TEXT    NOT NULL
      );
      CREATE INDEX violations_recent ON violations (updated_at DESC, id DESC);
      CREATE INDEX violations_policy ON violations (policy, rule);
      CREATE INDEX violations_resource ON violations (resource_namespace, resource_name);
      CREATE INDEX violations_behavior ON violations (behavior);
      CREATE INDEX violations_mode ON violations (mode);

      CREATE TABLE actions (
        id           INTEGER PRIMARY KEY,
        violation_id INTEGER NOT NULL REFERENCES violations (id) ON DELETE CASCADE,
        event_id     TEXT,
        action       TEXT    NOT NULL,
        outcome      TEXT    NOT NULL,
        detail       TEXT,
        time         TEXT    NOT NULL
      );
      CREATE INDEX actions_violation ON actions (violation_id, id);

      -- A ring: rows beyond the configured size are deleted oldest-first at each flush.
      CREATE TABLE events (
        seq         INTEGER PRIMARY KEY,
        event_id    TEXT    NOT NULL,
        time        TEXT    NOT NULL,
        recorded_at INTEGER NOT NULL,
        source      TEXT    NOT NULL,
        behavior    TEXT    NOT NULL,
        namespace   TEXT,
        pod         TEXT,
        binary      TEXT,
        verdicts    INTEGER NOT NULL,
        json        TEXT    NOT NULL
      );

      CREATE TABLE timeline (
        minute     INTEGER PRIMARY KEY, -- unix time / 60
        evaluated  INTEGER NOT NULL DEFAULT 0,
        violations INTEGER NOT NULL DEFAULT 0
      );
    `,
  },
  {
    version: 2,
    description: 'PolicyReport result (fail, skip...) and the exempting exception on violations',
    // Before v2 an exempted verdict was stored as a violation whose message is Kyverno's fixed skip
    // message; that message is the only trace of the exception, so old rows are classified from it.
    // Old timeline minutes cannot be split: their exempted verdicts stay in `violations`.
    sql: `
      ALTER TABLE violations ADD COLUMN result TEXT NOT NULL DEFAULT 'fail'
        CHECK (result IN ('pass', 'fail', 'warn', 'error', 'skip'));
      ALTER TABLE violations ADD COLUMN exception TEXT;
      UPDATE violations
        SET result = 'skip', exception = substr(message, ${SKIP_PREFIX.length + 1})
        WHERE substr(message, 1, ${SKIP_PREFIX.length}) = '${SKIP_PREFIX}'
          AND length(message) > ${SKIP_PREFIX.length}
          AND length(message) <= ${SKIP_PREFIX.length + 507}
          AND instr(substr(message, ${SKIP_PREFIX.length + 1}), ' ') = 0;
      CREATE INDEX violations_result ON violations (result);
      ALTER TABLE timeline ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0;
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 0;

export class StoreSchemaError extends KyvernoRuntimeError {
  constructor(message: string) {
    super('E_STORE_SCHEMA_TOO_NEW', message);
  }
}

/** Brings the database to SCHEMA_VERSION; returns the version it found. */
export function migrate(db: Database): number {
  const found = Number(db.pragma('user_version', { simple: true }));
  if (found > SCHEMA_VERSION) {
    throw new StoreSchemaError(
      `store schema version ${found} is newer than this build understands (${SCHEMA_VERSION}); ` +
        'use a newer kyverno-runtime or point --db at another file',
    );
  }
  for (const m of MIGRATIONS) {
    if (m.version <= found) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return found;
}
