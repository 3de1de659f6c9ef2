import { getDatamodel } from "../generated/pothos-prisma-types.js";
import { badUserInput } from "./errors.js";

/**
 * Global IDs, the one codec for the schema, the request checks and the tests: base64 of
 * "Type:key", as plugin-relay writes them. Every Node type registers how its keys look (nodeId),
 * so an ID is checked against its type before any query sees it.
 */
export const encodeGlobalId = (typename: string, key: string | number | bigint) => Buffer.from(`${typename}:${key}`).toString("base64");

export type Key = number | bigint | string;

/** The primary-key shapes of our models: PostgreSQL `integer`, `bigint`, `uuid`. */
export const KEY_PARSERS = {
  int: (raw: string) => (/^\d{1,10}$/.test(raw) && Number(raw) <= MAX_INT ? Number(raw) : null),
  bigint: (raw: string) => (/^\d{1,19}$/.test(raw) && BigInt(raw) <= MAX_BIGINT ? BigInt(raw) : null),
  uuid: (raw: string) => (UUID.test(raw) ? raw.toLowerCase() : null),
} satisfies Record<string, (raw: string) => Key | null>;
export type KeyKind = keyof typeof KEY_PARSERS;

const MAX_INT = 2_147_483_647;
const MAX_BIGINT = 9_223_372_036_854_775_807n;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type KeyOf<K extends KeyKind> = NonNullable<ReturnType<(typeof KEY_PARSERS)[K]>>;

const nodeKeys = new Map<string, KeyKind>();

/**
 * Registers a Node type and the kind of its key: `option` is the prismaNode's `id`, and `key`
 * turns a global ID of the type (as plugin-relay decodes it, or the raw key) into the key.
 */
export function nodeId<K extends KeyKind>(typename: string, kind: K) {
  nodeKeys.set(typename, kind);
  return {
    option: { field: "id" as const },
    key(globalId: { id: string | number } | string | number): KeyOf<K> {
      const key = KEY_PARSERS[kind](String(typeof globalId === "object" ? globalId.id : globalId));
      if (key === null) throw badUserInput(`Invalid ${typename} ID.`);
      return key as KeyOf<K>;
    },
  };
}

/** The type and raw key of a global ID, or null when it is not one of ours. */
export function decodeGlobalId(globalId: string): { typename: string; id: string } | null {
  if (globalId.length > 200 || !/^[A-Za-z0-9+/]+={0,2}$/.test(globalId)) return null;
  const decoded = Buffer.from(globalId, "base64").toString("utf8");
  const separator = decoded.indexOf(":");
  const typename = decoded.slice(0, separator);
  const kind = nodeKeys.get(typename);
  if (separator <= 0 || !kind || KEY_PARSERS[kind](decoded.slice(separator + 1)) === null) return null;
  return { typename, id: decoded.slice(separator + 1) };
}

/** Why `globalId` is not an ID of one of `typenames`, or null when it is one. */
export function globalIdProblem(globalId: string, typenames: readonly string[]): string | null {
  const decoded = decodeGlobalId(globalId);
  if (!decoded) return "Not a valid ID";
  return typenames.includes(decoded.typename) ? null : `Not the ID of a ${typenames.join(" or ")}`;
}

const datamodel = getDatamodel().datamodel.models;

/** How a model's keys look: as its Node type registered them, or from the type of its `id` column. */
export function keyKindOf(model: string): KeyKind | null {
  const registered = nodeKeys.get(model);
  if (registered) return registered;
  const type = datamodel[model]?.fields.find((f) => f.isId)?.type;
  return type === "Int" ? "int" : type === "BigInt" ? "bigint" : null;
}
