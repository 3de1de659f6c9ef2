import { type DocumentNode, type ExecutionResult, Kind, type OperationDefinitionNode, getOperationAST, print } from "graphql";
import { type Plugin, isAsyncIterable } from "graphql-yoga";
import type { ResponseCacheSettings } from "../config.js";
import type { Context } from "../context.js";
import type { Logger } from "../logger.js";
import { currentScope } from "../observability/scope.js";
import type { EventBus } from "../realtime/bus.js";
import type { TableVersions } from "../sql/table-versions.js";

/** One kept answer: its JSON as it was sent, and the versions of the tables its statements read. */
interface Entry {
  key: string;
  json: string;
  /** The tables read (a mask of src/sql/table-versions.ts) and the clock when the operation started. */
  tables: number;
  since: number;
  expiresAt: number;
  size: number;
}

/** Entries in least-recently-used order (a Map keeps insertion order), bounded by count and size. */
class Entries {
  private readonly map = new Map<string, Entry>();
  bytes = 0;

  constructor(private readonly settings: Pick<ResponseCacheSettings, "maxEntries" | "maxBytes">) {}

  get size() {
    return this.map.size;
  }

  get(key: string): Entry | undefined {
    const entry = this.map.get(key);
    if (entry) {
      this.map.delete(key);
      this.map.set(key, entry);
    }
    return entry;
  }

  set(entry: Entry) {
    if (entry.size > this.settings.maxBytes) return;
    this.delete(entry.key);
    this.map.set(entry.key, entry);
    this.bytes += entry.size;
    for (const oldest of this.map.values()) {
      if (this.map.size <= this.settings.maxEntries && this.bytes <= this.settings.maxBytes) break;
      this.delete(oldest.key);
    }
  }

  delete(key: string) {
    const entry = this.map.get(key);
    if (!entry) return;
    this.map.delete(key);
    this.bytes -= entry.size;
  }

}

/** A result Yoga serialises with its own `stringify` (graphql-jit's convention, which Yoga's JSON answers honour). */
type Stringified = ExecutionResult & { stringify?: (result: unknown) => string };

/** What a hit answers: the kept JSON as the body, and `data` (REST reads it) parsed only if something asks. */
function answer(json: string): Stringified {
  let data: ExecutionResult["data"];
  return {
    get data() {
      return (data ??= (JSON.parse(json) as ExecutionResult).data);
    },
    stringify: () => json,
  };
}

/** How many distinct documents get an id; past it the ids start over (never reused, so old keys just stop matching). */
const DOCUMENT_IDS = 1_000;

/**
 * Answers to anonymous queries, kept while none of the tables their statements read has changed.
 *
 * An operation is anonymous when its request carries no Authorization header (and it did not come
 * over a live connection): then its answer depends on the document, the operation name, the
 * variables and the database only. While it runs, every statement sent (src/sql/table-versions.ts)
 * adds the tables it names to the operation's read set; the answer is kept with that set and the
 * tables' clock at the start, and answered again while none of them has moved since. An operation
 * that wrote, ran a statement naming no known table, answered with errors or error codes, or whose
 * tables moved while it ran, is not kept. TTL bounds what the database does not tell: other
 * instances' writes whose event was lost, and answers that depend on the clock (trending hashtags).
 */
export class ResponseCache {
  private readonly entries: Entries;
  /** Per document: the key prefix of each operation name, or null when that operation is not kept (mutations, introspection). */
  private readonly prefixes = new WeakMap<DocumentNode, Map<string | null | undefined, string | null>>();
  private documentIds = new Map<string, number>();
  private nextDocumentId = 0;
  /** Set by the metrics: each lookup, hit or miss. */
  onLookup: ((result: "hit" | "miss") => void) | undefined;
  private readonly stopSharing: () => unknown;

  constructor(
    private readonly settings: ResponseCacheSettings,
    private readonly versions: TableVersions,
    bus: EventBus,
    logger: Logger,
  ) {
    this.entries = new Entries(settings);
    this.stopSharing = bus.kind === "redis" ? shareChanges(versions, bus, logger) : () => undefined;
  }

  get size() {
    return this.entries.size;
  }

  get bytes() {
    return this.entries.bytes;
  }

  plugin(): Plugin<Context> {
    return {
      onExecute: ({ args, setResultAndStopExecution }) => {
        const ctx = args.contextValue as Context;
        const scope = currentScope();
        if (!scope || ctx.viewer || ctx.connection || ctx.request.headers.has("authorization")) return;
        const prefix = this.prefix(args.document, args.operationName);
        if (prefix === null) return;
        const variables = stableJson(args.variableValues ?? {});
        if (variables === undefined) return;
        const key = prefix + variables;
        const now = Date.now();
        const kept = this.entries.get(key);
        if (kept) {
          if (kept.expiresAt > now && this.versions.unchangedSince(kept.tables, kept.since)) {
            scope.cache = "hit";
            this.onLookup?.("hit");
            setResultAndStopExecution(answer(kept.json));
            return;
          }
          this.entries.delete(key);
        }
        scope.cache = "miss";
        this.onLookup?.("miss");
        const reads = this.versions.startReading();
        scope.reads = reads;
        const codes = codesNoted(scope.codes);
        const stop = () => {
          this.versions.stopReading(reads);
          if (scope.reads === reads) scope.reads = undefined;
        };
        // When execution throws, onExecuteDone never comes.
        scope.onFinish(stop);
        return {
          onExecuteDone: ({ result }) => {
            stop();
            if (isAsyncIterable(result) || result.errors?.length || result.extensions || reads.uncacheable || codesNoted(scope.codes) !== codes) return;
            let json: string | undefined;
            // Kept as Yoga sends it: the JSON its answer is written with, captured as it is written.
            (result as Stringified).stringify = (sent) => (json = JSON.stringify(sent));
            scope.onFinish(() => {
              if (!this.versions.unchangedSince(reads.tables, reads.since)) return;
              // A REST route's answer is written by SOFA from `data`, not by Yoga.
              json ??= JSON.stringify(result);
              this.entries.set({ key, json, tables: reads.tables, since: reads.since, expiresAt: now + this.settings.ttlMs, size: key.length + json.length });
            });
          },
        };
      },
      onDispose: async () => void (await this.stopSharing()),
    };
  }

  /** `<document id>:<operation name>:`, or null when the operation is not kept. */
  private prefix(document: DocumentNode, operationName: string | null | undefined): string | null {
    let byName = this.prefixes.get(document);
    if (!byName) this.prefixes.set(document, (byName = new Map()));
    let prefix = byName.get(operationName);
    if (prefix === undefined) {
      const operation = getOperationAST(document, operationName);
      prefix = operation && keeps(operation) ? `${this.documentId(print(document))}:${operationName ?? ""}:` : null;
      byName.set(operationName, prefix);
    }
    return prefix;
  }

  private documentId(text: string) {
    let id = this.documentIds.get(text);
    if (id === undefined) {
      if (this.documentIds.size >= DOCUMENT_IDS) this.documentIds = new Map();
      this.documentIds.set(text, (id = this.nextDocumentId++));
    }
    return id;
  }
}

/** How many error codes the request has noted so far (a typed error result's among them). */
function codesNoted(codes: ReadonlyMap<string, number>) {
  let count = 0;
  for (const n of codes.values()) count += n;
  return count;
}

/** Queries, except introspection (the same for everyone, and rare). */
function keeps(operation: OperationDefinitionNode) {
  if (operation.operation !== "query") return false;
  return !operation.selectionSet.selections.some((s) => s.kind === Kind.FIELD && (s.name.value === "__schema" || s.name.value === "__type"));
}

/**
 * JSON with object keys sorted, so that `{a, b}` and `{b, a}` make one key; undefined when a value is
 * not plain JSON (a file, a date), which a key could not tell apart.
 */
export function stableJson(value: unknown): string | undefined {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") return Number.isFinite(value) ? JSON.stringify(value) : undefined;
  if (Array.isArray(value)) {
    const items: string[] = [];
    for (const item of value) {
      const json = stableJson(item);
      if (json === undefined) return undefined;
      items.push(json);
    }
    return `[${items.join(",")}]`;
  }
  if (typeof value === "object") {
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) return undefined;
    const record = value as Record<string, unknown>;
    const parts: string[] = [];
    for (const name of Object.keys(record).sort()) {
      if (record[name] === undefined) continue;
      const json = stableJson(record[name]);
      if (json === undefined) return undefined;
      parts.push(`${JSON.stringify(name)}:${json}`);
    }
    return `{${parts.join(",")}}`;
  }
  return undefined;
}

/**
 * Several instances: the tables each commit wrote go out on the event bus (coalesced per turn of the
 * event loop), and the other instances' move this one's versions. Redis pub/sub delivers at most
 * once: when the subscription reconnects every table counts as changed, and a message lost otherwise
 * leaves an answer stale for at most the TTL.
 */
function shareChanges(versions: TableVersions, bus: EventBus, logger: Logger): () => Promise<unknown> {
  let pending = 0;
  const flush = () => {
    const tables = versions.classifier.tablesOf(pending);
    pending = 0;
    bus.publish("tables", { tables, origin: versions.origin });
  };
  const stopPublishing = versions.onCommitted((tables) => {
    if (pending === 0) setImmediate(flush);
    pending |= tables;
  });
  const stopReconnects = bus.onReconnect(() => versions.changedEverywhere());
  const subscription = bus.subscribe("tables")[Symbol.asyncIterator]();
  let stopped: Promise<unknown> | undefined;
  const stop = () => {
    if (stopped) return stopped;
    stopPublishing();
    stopReconnects();
    stopOnClose();
    return (stopped = Promise.resolve(subscription.return?.()));
  };
  // The bus closes before the app is disposed (src/server.ts): unsubscribe while its connection works.
  const stopOnClose = bus.onClose(stop);
  void (async () => {
    for (;;) {
      const next = await subscription.next();
      if (next.done) return;
      const { tables, origin } = next.value;
      if (origin !== versions.origin && Array.isArray(tables)) versions.changedElsewhere(tables.filter((t): t is string => typeof t === "string"));
    }
  })().catch((error: unknown) => logger.warn({ err: { message: (error as Error).message } }, "response cache: the table changes of other instances stopped arriving"));
  return stop;
}
