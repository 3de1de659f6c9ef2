import { randomUUID } from "node:crypto";
import { currentScope } from "../observability/scope.js";
import type { SqlDatamodel } from "./model.js";

/**
 * Which of the data model's tables each SQL statement reads and writes, and a version of each table
 * that every write moves on: what the response cache (src/graphql/response-cache.ts) holds an answer
 * against. Every statement Chirp sends passes through `statement` (src/db.ts wraps the SQL reader,
 * Prisma's adapter and its transactions, and the sessions), so no write path has to remember to
 * invalidate anything.
 */

/** The tables of the data model and the foreign keys that point at each (a DELETE there can change the referencing rows). */
export interface TableCatalog {
  tables: readonly string[];
  /** For each table: the tables whose foreign keys reference it, and the referenced columns. */
  referencedBy: ReadonlyMap<string, readonly { table: string; columns: readonly string[] }[]>;
}

export function tableCatalog(datamodel: SqlDatamodel): TableCatalog {
  const tables = Object.values(datamodel.models).map((model) => model.dbName);
  const referencedBy = new Map<string, { table: string; columns: string[] }[]>();
  for (const model of Object.values(datamodel.models)) {
    for (const field of model.fields) {
      if (field.kind !== "object" || !field.relationFromFields?.length) continue;
      const target = datamodel.models[field.type]!;
      const columns = (field.relationToFields ?? []).map((name) => target.fields.find((f) => f.name === name)?.dbName ?? name);
      const list = referencedBy.get(target.dbName) ?? [];
      list.push({ table: model.dbName, columns });
      referencedBy.set(target.dbName, list);
    }
  }
  return { tables, referencedBy };
}

/** A set of tables as bits; past 30 tables, the rest share the last bit (a superset, so still exact). */
type Mask = number;
const MAX_BITS = 31;

/** What one statement does, as far as the cache is concerned. */
export interface StatementClass {
  /** The known tables its text names (a superset of those it reads). */
  reads: Mask;
  /** The tables it may change (those it names, those their foreign keys cascade to); 0 for a read. */
  writes: Mask;
  /** Neither reads nor writes data: BEGIN, COMMIT, SET… */
  control: boolean;
  /** COMMIT or ROLLBACK: the end of a transaction. */
  ends: boolean;
}

/**
 * Words that make a statement a write wherever they appear (data-modifying CTEs, SELECT … INTO,
 * DDL). A row lock (`FOR UPDATE`, `FOR NO KEY UPDATE`) is not one: it changes no row any read can
 * see, and the writes that follow it in its transaction are classified themselves.
 */
const WRITE_WORDS = new Set([
  "INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "COPY", "INTO", "UPSERT",
  "CREATE", "ALTER", "DROP", "GRANT", "REVOKE", "COMMENT", "SECURITY", "REINDEX", "CLUSTER", "VACUUM", "REFRESH", "IMPORT",
  "LOCK", "CALL", "DO", "EXECUTE",
]);
/** First words of statements that only read (when no write word appears anywhere in them). */
const READ_STARTS = new Set(["SELECT", "WITH", "VALUES", "TABLE", "SHOW", "EXPLAIN"]);
/** First words of statements that touch no data. */
const CONTROL_STARTS = new Set(["BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE", "SET", "RESET", "DEALLOCATE", "DISCARD", "LISTEN", "UNLISTEN"]);
const ENDS = /^\s*(COMMIT|END|ROLLBACK|ABORT)\s*;?\s*$/i;

/** Every word and quoted identifier of the text, literals and comments included: a superset of its names. */
const WORDS = /"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)/g;

/** Classifies SQL statements against one catalog; conservative wherever the text leaves a doubt. */
export class StatementClassifier {
  readonly bits = new Map<string, number>();
  readonly all: Mask;
  private readonly cascades = new Map<number, Mask>();
  /** The columns of each table that other tables' foreign keys reference. */
  private readonly referencedColumns = new Map<string, Set<string>>();

  constructor(readonly catalog: TableCatalog) {
    catalog.tables.forEach((table, index) => this.bits.set(table, Math.min(index, MAX_BITS - 1)));
    this.all = catalog.tables.reduce((mask, table) => mask | this.bit(table), 0);
    for (const [table, refs] of catalog.referencedBy) this.referencedColumns.set(table, new Set(refs.flatMap((r) => r.columns)));
    // What a DELETE (or a key's UPDATE) of each table may change through ON DELETE / ON UPDATE actions, transitively.
    for (const table of catalog.tables) {
      let mask = 0;
      const queue = [table];
      const seen = new Set(queue);
      while (queue.length > 0) {
        const current = queue.pop()!;
        mask |= this.bit(current);
        for (const { table: referencing } of catalog.referencedBy.get(current) ?? []) {
          if (!seen.has(referencing)) {
            seen.add(referencing);
            queue.push(referencing);
          }
        }
      }
      this.cascades.set(this.bit(table), (this.cascades.get(this.bit(table)) ?? 0) | mask);
    }
  }

  bit(table: string): Mask {
    const index = this.bits.get(table);
    return index === undefined ? 0 : 1 << index;
  }

  tablesOf(mask: Mask): string[] {
    return this.catalog.tables.filter((table) => (mask & this.bit(table)) !== 0);
  }

  maskOf(tables: Iterable<string>): Mask {
    let mask = 0;
    for (const table of tables) mask |= this.bit(table);
    return mask;
  }

  classify(sql: string): StatementClass {
    let reads = 0;
    let write = false;
    let first: string | undefined;
    const named: string[] = [];
    // The words before the current one, for telling a row lock's UPDATE from a write's.
    let previous = "";
    let beforePrevious = "";
    for (const match of sql.matchAll(WORDS)) {
      const quoted = match[1];
      const name = quoted !== undefined ? quoted.replaceAll('""', '"') : match[2]!.toLowerCase();
      const bit = this.bit(name);
      if (bit !== 0 && (reads & bit) === 0) named.push(name);
      reads |= bit;
      if (quoted !== undefined) continue;
      const word = match[2]!.toUpperCase();
      first ??= word;
      const lock = word === "UPDATE" && (previous === "FOR" || (previous === "KEY" && beforePrevious === "NO"));
      if (WRITE_WORDS.has(word) && !lock) write = true;
      beforePrevious = previous;
      previous = word;
    }
    if (first === undefined || (!READ_STARTS.has(first) && !CONTROL_STARTS.has(first))) write = true;
    const control = !write && first !== undefined && CONTROL_STARTS.has(first);
    if (!write) return { reads, writes: 0, control, ends: control && ENDS.test(sql) };
    // A write that names no known table might change any of them.
    if (reads === 0) return { reads, writes: this.all, control: false, ends: false };
    let writes = reads;
    const deletes = /\b(DELETE|TRUNCATE|MERGE|DROP|ALTER)\b/i.test(sql);
    for (const table of named) {
      if (deletes || this.setsReferencedColumn(sql, table)) writes |= this.cascades.get(this.bit(table)) ?? 0;
    }
    return { reads, writes, control: false, ends: false };
  }

  /** Whether an UPDATE (or an upsert's DO UPDATE) may assign a column that foreign keys reference: ON UPDATE CASCADE moves those rows too. */
  private setsReferencedColumn(sql: string, table: string) {
    const columns = this.referencedColumns.get(table);
    if (!columns || !/\bSET\b/i.test(sql)) return false;
    const assigned = setClauseNames(sql);
    if (!assigned) return true;
    for (const name of assigned) if (columns.has(name)) return true;
    return false;
  }
}

/**
 * The names in every SET clause of the text (from SET to the WHERE, FROM or RETURNING at its depth),
 * or null when the text cannot be followed (an unbalanced parenthesis, an unterminated literal).
 */
function setClauseNames(sql: string): Set<string> | null {
  const names = new Set<string>();
  let depth = 0;
  let setDepth = -1;
  const token = /'(?:[^']|'')*'|"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)|(\$\w*\$)|([();])|--[^\n]*|\/\*[\s\S]*?\*\/|'/g;
  for (let match = token.exec(sql); match; match = token.exec(sql)) {
    const [text, quoted, word, dollar, punctuation] = match;
    if (text === "'") return null;
    if (dollar !== undefined) {
      // A dollar-quoted literal: skip to its closing tag.
      const end = sql.indexOf(dollar, token.lastIndex);
      if (end < 0) return null;
      token.lastIndex = end + dollar.length;
      continue;
    }
    if (punctuation === "(") depth++;
    else if (punctuation === ")") {
      depth--;
      if (depth < 0) return null;
      if (depth < setDepth) setDepth = -1;
    } else if (punctuation === ";") setDepth = -1;
    else if (word !== undefined) {
      const upper = word.toUpperCase();
      if (upper === "SET") setDepth = depth;
      else if (setDepth === depth && (upper === "WHERE" || upper === "FROM" || upper === "RETURNING")) setDepth = -1;
      else if (setDepth >= 0) names.add(word.toLowerCase());
    } else if (quoted !== undefined && setDepth >= 0) names.add(quoted.replaceAll('""', '"'));
  }
  return depth === 0 ? names : null;
}

/** The tables an anonymous operation's statements read while it ran, and whether one of them could not be told. */
export interface ReadSet {
  /** The clock when the operation started: a table changed after it makes the answer unfit to keep. */
  readonly since: number;
  tables: Mask;
  /** A statement of the operation's own wrote, or named no known table. */
  uncacheable: boolean;
}

/** The writes of one open transaction, announced again when it ends. */
export interface TransactionWrites {
  tables: Mask;
}

/** How many statement texts keep their classification (Prisma's and the reader's texts are parameterised, so few). */
const CLASSIFIED_TEXTS = 5_000;

/**
 * The version of each table of one database (per Database, so that two in one process, as two
 * instances in a test, stay apart). Every write moves the versions of the tables it may change when
 * it is sent and again when it is committed or rolled back: a read that ran in between saw the old
 * rows and must not be kept as current.
 */
export class TableVersions {
  readonly classifier: StatementClassifier;
  /** Tells this process's messages from other instances' on the event bus. */
  readonly origin = randomUUID();
  private clock = 0;
  private readonly changedAt: number[] = new Array(MAX_BITS).fill(0);
  private readonly classified = new Map<string, StatementClass>();
  /** The read sets of the operations running now: every statement's tables go into each. */
  private readonly reading = new Set<ReadSet>();
  private readonly committedListeners = new Set<(tables: number) => void>();

  constructor(catalog: TableCatalog) {
    this.classifier = new StatementClassifier(catalog);
  }

  classify(sql: string): StatementClass {
    let known = this.classified.get(sql);
    if (!known) {
      known = this.classifier.classify(sql);
      if (this.classified.size >= CLASSIFIED_TEXTS) this.classified.clear();
      this.classified.set(sql, known);
    }
    return known;
  }

  /**
   * Runs one statement. Outside a transaction (`transaction` undefined) a write is committed when it
   * returns; inside one it is remembered for the COMMIT or ROLLBACK, which this also recognises.
   */
  statement<T>(sql: string, run: () => Promise<T>, transaction?: TransactionWrites): Promise<T> {
    const statement = this.classify(sql);
    this.noteRead(statement);
    if (transaction && statement.ends) return this.ending(transaction, run);
    if (statement.writes === 0) return run();
    this.bump(statement.writes);
    if (transaction) {
      transaction.tables |= statement.writes;
      return run();
    }
    return settled(run(), () => this.committed(statement.writes));
  }

  /** The COMMIT or ROLLBACK of `transaction` (an adapter's own, without SQL of Prisma's). */
  ending<T>(transaction: TransactionWrites, run: () => Promise<T>): Promise<T> {
    return settled(run(), () => {
      const tables = transaction.tables;
      transaction.tables = 0;
      if (tables !== 0) this.committed(tables);
    });
  }

  /**
   * A connection of its own (migrations, the demo data, advisory locks), whose scripts may open and
   * commit transactions of their own: after each statement, everything it ever wrote moves on again.
   */
  session(): <T>(sql: string, run: () => Promise<T>) => Promise<T> {
    let written = 0;
    return (sql, run) => {
      const { writes } = this.classify(sql);
      if (writes !== 0) this.bump(writes);
      written |= writes;
      return written === 0 ? run() : settled(run(), () => this.committed(written));
    };
  }

  /** Starts collecting what the operation now starting reads. */
  startReading(): ReadSet {
    const reads: ReadSet = { since: this.clock, tables: 0, uncacheable: false };
    this.reading.add(reads);
    return reads;
  }

  stopReading(reads: ReadSet) {
    this.reading.delete(reads);
  }

  /** Whether none of `tables` changed after the clock read `since`. */
  unchangedSince(tables: Mask, since: number) {
    for (let bits = tables, index = 0; bits !== 0; bits >>>= 1, index++) {
      if ((bits & 1) !== 0 && this.changedAt[index]! > since) return false;
    }
    return true;
  }

  /** Another instance committed writes to these tables (the event bus). */
  changedElsewhere(tables: readonly string[]) {
    const known = this.classifier.maskOf(tables);
    // A table this process does not know (another version of Chirp mid-deploy): everything may have changed.
    this.bump(known === 0 || tables.some((t) => !this.classifier.bits.has(t)) ? this.classifier.all : known);
  }

  /** Everything may have changed (the event bus lost messages). */
  changedEverywhere() {
    this.bump(this.classifier.all);
  }

  /** Called with the tables of every write this process commits. */
  onCommitted(listener: (tables: number) => void) {
    this.committedListeners.add(listener);
    return () => void this.committedListeners.delete(listener);
  }

  private committed(tables: Mask) {
    this.bump(tables);
    for (const listener of this.committedListeners) listener(tables);
  }

  private bump(tables: Mask) {
    const now = ++this.clock;
    for (let bits = tables, index = 0; bits !== 0; bits >>>= 1, index++) if ((bits & 1) !== 0) this.changedAt[index] = now;
  }

  /**
   * Every statement run while an operation runs counts as read by it, whoever's it is: a superset
   * that needs no request context (Prisma batches findUnique calls of concurrent requests into one
   * statement, sent in the first one's context). What the operation itself did is told by its scope.
   */
  private noteRead(statement: StatementClass) {
    if (this.reading.size === 0) return;
    for (const reads of this.reading) reads.tables |= statement.reads;
    const own = currentScope()?.reads;
    if (own && (statement.writes !== 0 || (statement.reads === 0 && !statement.control))) own.uncacheable = true;
  }
}

/** `promise`, with `after` run once it settles either way. */
function settled<T>(promise: Promise<T>, after: () => void): Promise<T> {
  return promise.then(
    (value) => {
      after();
      return value;
    },
    (error: unknown) => {
      after();
      throw error;
    },
  );
}

/**
 * Reads kept by key for as long as no table they read has changed, and at most `ttlMs` (the bound on
 * another instance's write whose event was lost): the sessions behind access tokens, which every
 * authenticated request would otherwise read again. Least recently used go first past `maxEntries`.
 * The kept values are shared: callers must not change them.
 */
export class KeptReads<T> {
  private readonly entries = new Map<string, { value: T; tables: Mask; since: number; until: number }>();

  constructor(
    private readonly versions: TableVersions,
    private readonly options: { ttlMs: number; maxEntries: number },
  ) {}

  async get(key: string, read: () => Promise<T | null>): Promise<T | null> {
    const kept = this.entries.get(key);
    if (kept) {
      this.entries.delete(key);
      if (kept.until > Date.now() && this.versions.unchangedSince(kept.tables, kept.since)) {
        this.entries.set(key, kept);
        return kept.value;
      }
    }
    const reads = this.versions.startReading();
    let value: T | null;
    try {
      value = await read();
    } finally {
      this.versions.stopReading(reads);
    }
    // Kept only when its tables are known and none moved while it was read.
    if (value !== null && reads.tables !== 0 && this.versions.unchangedSince(reads.tables, reads.since)) {
      if (this.entries.size >= this.options.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(key, { value, tables: reads.tables, since: reads.since, until: Date.now() + this.options.ttlMs });
    }
    return value;
  }
}
