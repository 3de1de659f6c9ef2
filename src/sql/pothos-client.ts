import type { Prisma, PrismaClient } from "@prisma/client";
import type { FindArgs } from "./compile.js";
import type { SqlReader } from "./reader.js";

interface Lookup {
  args: FindArgs;
  resolve: (row: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * The client Pothos' prisma plugin reads with (builder.ts `client`), one per request. Its own reads —
 * `node(id:)`, a relation a parent row lacks — are `findUnique` calls that Prisma would put through
 * its query compiler (a conversation's page of messages cost 12.7 ms of CPU that way, the SQL 0.7):
 * a lone one goes through the SQL reader instead. Several for one model in the same tick
 * (`nodes(ids:)`) stay Prisma's, which batches them into one statement. Everything else is Prisma's.
 */
export function readerBackedClient(db: PrismaClient, reader: SqlReader): PrismaClient {
  const delegates = new Map<string, unknown>();
  const pending = new Map<string, Lookup[]>();
  const flush = (model: Prisma.ModelName, delegate: { findUnique(args: object): Promise<unknown> }) => {
    const lookups = pending.get(model)!;
    pending.delete(model);
    if (lookups.length === 1) {
      const [{ args, resolve, reject }] = lookups as [Lookup];
      reader.findFirst(model, args, (q) => delegate.findUnique(q)).then(resolve, reject);
      return;
    }
    for (const { args, resolve, reject } of lookups) delegate.findUnique(args).then(resolve, reject);
  };
  return new Proxy(db, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof property !== "string" || !isDelegate(value)) return value;
      let wrapped = delegates.get(property);
      if (!wrapped) {
        const model = `${property[0]!.toUpperCase()}${property.slice(1)}` as Prisma.ModelName;
        const findUnique = (args: FindArgs) =>
          new Promise((resolve, reject) => {
            let lookups = pending.get(model);
            if (!lookups) {
              pending.set(model, (lookups = []));
              queueMicrotask(() => flush(model, value));
            }
            lookups.push({ args, resolve, reject });
          });
        delegates.set(property, (wrapped = new Proxy(value, { get: (d, name, r) => (name === "findUnique" ? findUnique : Reflect.get(d, name, r)) })));
      }
      return wrapped;
    },
  });
}

const isDelegate = (value: unknown): value is { findUnique(args: object): Promise<unknown> } =>
  typeof value === "object" && value !== null && typeof (value as { findUnique?: unknown }).findUnique === "function";
