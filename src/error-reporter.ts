import { errorChain } from "./db-errors.js";
import type { Logger } from "./logger.js";
import { detached } from "./observability/scope.js";

/** How long one kind of error is logged once; later ones of that kind are counted, and the count logged when it ends. */
const REPORT_INTERVAL_MS = 10_000;

interface Interval {
  message: string;
  suppressed: number;
  timer: NodeJS.Timeout;
}

/**
 * Logs an error the first time its kind (class and codes) occurs in an interval, with its stack,
 * and at the end of the interval one line with how many more there were: an outage fails every
 * request the same way, and a line per request buries everything else.
 */
export class ErrorReporter {
  private readonly open = new Map<string, Interval>();
  private readonly reported = new WeakSet<object>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = REPORT_INTERVAL_MS,
  ) {}

  /** Logged in the request's scope, the first line of a kind carries its request id. */
  report(error: unknown, message: string): void {
    if (typeof error === "object" && error !== null) this.reported.add(error);
    const kind = kindOf(error);
    const interval = this.open.get(kind);
    if (interval) {
      interval.suppressed++;
      return;
    }
    this.logger.error({ err: error, kind }, message);
    // The count at the interval's end belongs to no one request.
    const timer = detached(() => setTimeout(() => this.close(kind), this.intervalMs));
    timer.unref();
    this.open.set(kind, { message, suppressed: 0, timer });
  }

  /** Whether this error went through report(), logged or counted. */
  has(error: unknown): boolean {
    return typeof error === "object" && error !== null && this.reported.has(error);
  }

  /** Logs the counts of the intervals still open, at shutdown. */
  flush(): void {
    for (const [kind, interval] of this.open) {
      clearTimeout(interval.timer);
      this.close(kind);
    }
  }

  private close(kind: string) {
    const { message, suppressed } = this.open.get(kind)!;
    this.open.delete(kind);
    if (suppressed > 0) this.logger.error({ kind, suppressed }, `${message}: ${suppressed} more of this kind not logged`);
  }
}

/** "PrismaClientKnownRequestError P2010 57P01", "Error ECONNREFUSED"; an error without any code is told apart by its message. */
function kindOf(error: unknown): string {
  const chain = errorChain(error);
  // Yoga hands over GraphQLErrors; the kind is that of the error a resolver or the context threw.
  const first = chain.find((e) => className(e) !== "GraphQLError") ?? chain[0];
  if (!first) return String(error);
  const codes = new Set(chain.flatMap((e) => [e.code, e.errorCode, e.originalCode, e.kind]).filter((c): c is string => typeof c === "string"));
  const name = className(first);
  if (codes.size > 0) return [name, ...codes].join(" ");
  return `${name}: ${String(first.message).split("\n", 1)[0]!.slice(0, 120)}`;
}

const className = (error: object): string => (error.constructor as { name?: string } | undefined)?.name ?? "Object";
