import { AsyncLocalStorage } from "node:async_hooks";
import { type Context, type Span, SpanKind, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import type { ReadSet } from "../sql/table-versions.js";

/** What a traced request (or WebSocket operation) gives its SQL statements: the tracer and the span they are children of. */
export interface ScopeTrace {
  tracer: Tracer;
  /** The request's (or operation's) own span. */
  root: Span;
  /** Where a statement's span goes now: under the execute span while it runs, the root's otherwise. */
  parent: Context;
}

/**
 * One HTTP request, or one operation over a WebSocket, from its first hook to its answer: its id
 * (every log line logged while it runs carries it, through the logger's mixin), the error codes it
 * answers with, what it asked the database, and its trace when tracing is on. Held in an
 * AsyncLocalStorage, so code far from the request (the SQL reader, Prisma's adapter, the error
 * reporter) finds it without being handed it.
 */
export class RequestScope {
  /** Error codes the answer carries, top-level and typed results', with how often each occurs. */
  readonly codes = new Map<string, number>();
  statements = 0;
  /** Time spent in database statements, in ms (statements that overlap count both). */
  dbMs = 0;
  operation: string | undefined;
  operationType: string | undefined;
  userId: number | undefined;
  ip: string | undefined;
  trace: ScopeTrace | undefined;
  /** Where the metrics of the app serving the request count its error codes. */
  countErrorCode: ((code: string) => void) | undefined;
  /** While an anonymous query runs to fill the response cache: what its statements read. */
  reads: ReadSet | undefined;
  /** Whether the response cache answered the operation (`hit`) or it ran and may be kept (`miss`). */
  cache: "hit" | "miss" | undefined;
  readonly startedAt = performance.now();
  private readonly finishers: (() => void)[] = [];
  private finished = false;

  constructor(public id: string) {}

  /** Runs `fn` when the request is answered (an event stream: when it ends), the operation complete. */
  onFinish(fn: () => void) {
    this.finishers.push(fn);
  }

  /** Runs the finishers once, in the scope (their log lines carry its id). */
  finish() {
    if (this.finished) return;
    this.finished = true;
    storage.run(this, () => {
      for (const fn of this.finishers) fn();
    });
  }
}

const storage = new AsyncLocalStorage<RequestScope>();

export const currentScope = (): RequestScope | undefined => storage.getStore();

/** Runs `fn`, and everything it starts, in `scope`. */
export const inScope = <T>(scope: RequestScope, fn: () => T): T => storage.run(scope, fn);

/**
 * Runs `fn` outside any request: for work a request sets off but that outlives it (a worker's round,
 * a timer that logs later), which would otherwise carry that request's id and count its statements.
 */
export const detached = <T>(fn: () => T): T => storage.exit(fn);

/** Records an error code the answer carries: for its log line and the errors counter. */
export function noteErrorCode(code: string) {
  const scope = storage.getStore();
  if (!scope) return;
  scope.codes.set(code, (scope.codes.get(code) ?? 0) + 1);
  scope.countErrorCode?.(code);
}

/** The first word of a statement (SELECT, INSERT, BEGIN…), the name of its span. */
const verb = (sql: string) => /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? "SQL";

/**
 * Runs one SQL statement for the request in scope: counted, timed and, when the request is traced,
 * a child span with the statement's text (its placeholders, never the values bound to them).
 */
export function trackStatement<T>(sql: string, run: () => Promise<T>): Promise<T> {
  const scope = storage.getStore();
  if (!scope) return run();
  scope.statements++;
  const started = performance.now();
  const trace = scope.trace;
  const span = trace?.tracer.startSpan(verb(sql), { kind: SpanKind.CLIENT, attributes: { "db.system": "postgresql", "db.statement": sql } }, trace.parent);
  const done = () => {
    scope.dbMs += performance.now() - started;
    span?.end();
  };
  return run().then(
    (result) => {
      done();
      return result;
    },
    (error: unknown) => {
      span?.setStatus({ code: SpanStatusCode.ERROR });
      done();
      throw error;
    },
  );
}
