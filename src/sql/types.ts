import { Prisma } from "@prisma/client";

/** The compiler or the reviver cannot answer exactly what Prisma would: the caller asks Prisma instead. */
export class Unsupported extends Error {}

/**
 * How the values of one column cross the reader's JSON rows and its parameters, exactly as Prisma's
 * client would read and bind them. A type it cannot carry exactly has no `read` (or `bind`), and the
 * compiler throws Unsupported for any query that selects (or filters by) it.
 */
export interface Codec {
  /** SQL for the column's value in the row's JSON. */
  read: ((column: string) => string) | null;
  /** From the JSON value to what Prisma returns; null when JSON.parse already gives that. */
  revive: ((value: unknown) => unknown) | null;
  /** A filter's value as a parameter; throws Unsupported for a value Prisma would reject or bind otherwise. */
  bind: ((value: unknown) => unknown) | null;
  /** Prisma takes an orderBy on it. */
  orderable: boolean;
  /** Why `read` or `bind` is null. */
  why: string;
}

export interface ColumnType {
  /** Prisma's scalar type (String, Int, DateTime, …) or the enum's name. */
  type: string;
  kind: "scalar" | "enum";
  /** The `@db.` attribute's name (Timestamptz, Uuid, …), null for the type's default. */
  nativeType: string | null;
  isList: boolean;
}

const asIs = (c: string) => c;

/** PostgreSQL writes a timestamp into JSON as ISO 8601 without a zone; Prisma takes it as UTC. */
function reviveDate(value: unknown) {
  const date = new Date(`${value as string}Z`);
  // infinity, years past 9999 and BC dates have no Date that Prisma would give: let Prisma answer.
  if (Number.isNaN(date.getTime())) throw new Unsupported(`timestamp ${value as string}`);
  return date;
}

function reviveBytes(value: unknown) {
  const text = value as string;
  // bytea_output = escape would write another format.
  if (!text.startsWith("\\x")) throw new Unsupported("bytea not in hex");
  return new Uint8Array(Buffer.from(text.slice(2), "hex"));
}

// NaN and ±Infinity are not JSON numbers: PostgreSQL writes them as strings.
const reviveFloat = (value: unknown) => (typeof value === "string" ? Number(value) : value);

function bindDate(value: unknown) {
  if (!(value instanceof Date)) throw new Unsupported("a DateTime filter that is not a Date");
  const year = value.getUTCFullYear();
  // toISOString writes other years as ±YYYYYY, which PostgreSQL does not read.
  if (Number.isNaN(year) || year < 1 || year > 9999) throw new Unsupported("a Date outside years 1–9999");
  return value.toISOString();
}

const bindAs = (kind: "string" | "boolean" | "number") => (value: unknown) => {
  if (typeof value !== kind) throw new Unsupported(`a ${typeof value} filter on a ${kind} column`);
  return value;
};

function bindInt(value: unknown) {
  if (!Number.isInteger(value)) throw new Unsupported("a filter on an Int column that is not an integer");
  return value;
}

function bindBigInt(value: unknown) {
  if (typeof value !== "bigint" && !Number.isInteger(value)) throw new Unsupported("a filter on a BigInt column that is not an integer");
  // As text: node-postgres and PGlite take no bigint parameters, and a number would lose digits.
  return String(value);
}

const unsupported = (why: string): Codec => ({ read: null, revive: null, bind: null, orderable: false, why });

/** What Prisma returns for each DateTime native type, and the SQL that gives its UTC wall time. */
const DATE_TIMES: Record<string, { read: (c: string) => string; bind: boolean } | string> = {
  Timestamp: { read: asIs, bind: true },
  // The session's TimeZone would otherwise set the offset PostgreSQL writes (even seconds, as +00:19:32).
  Timestamptz: { read: (c) => `(${c} AT TIME ZONE 'UTC')`, bind: true },
  // Prisma gives midnight UTC for a date and 1970-01-01 for a time, and compares their filters its own way.
  Date: { read: (c) => `${c}::timestamp`, bind: false },
  Time: { read: (c) => `('1970-01-01'::date + ${c})`, bind: false },
  Timetz: "Prisma drops a timetz's offset",
};

function scalarCodec(type: string, nativeType: string | null): Codec {
  switch (type) {
    case "String":
      return { read: asIs, revive: null, bind: bindAs("string"), orderable: true, why: "" };
    case "Boolean":
      return { read: asIs, revive: null, bind: bindAs("boolean"), orderable: true, why: "" };
    case "Int":
      return { read: asIs, revive: null, bind: bindInt, orderable: true, why: "" };
    case "Float":
      return { read: asIs, revive: reviveFloat, bind: bindAs("number"), orderable: true, why: "" };
    case "BigInt":
      // JSON numbers lose digits above 2^53: as text, revived as bigint.
      return { read: (c) => `${c}::text`, revive: (v) => BigInt(v as string), bind: bindBigInt, orderable: true, why: "" };
    case "Decimal":
      if (nativeType === "Money") return unsupported("money is written with its currency format");
      return { read: (c) => `${c}::text`, revive: (v) => new Prisma.Decimal(v as string), bind: null, orderable: true, why: "a Decimal filter" };
    case "DateTime": {
      const kind = DATE_TIMES[nativeType ?? "Timestamp"];
      if (kind === undefined || typeof kind === "string") return unsupported(kind ?? `DateTime @db.${nativeType}`);
      return { read: kind.read, revive: reviveDate, bind: kind.bind ? bindDate : null, orderable: true, why: `a filter on a DateTime @db.${nativeType}` };
    }
    case "Json":
      return { read: asIs, revive: null, bind: null, orderable: false, why: "a Json filter" };
    case "Bytes":
      return { read: asIs, revive: reviveBytes, bind: null, orderable: true, why: "a Bytes filter" };
    default:
      return unsupported(`type ${type}`);
  }
}

/** The codec of a column; `enums` has each enum's values, Prisma's name to the database's. */
export function codecOf(column: ColumnType, enums: Readonly<Record<string, Readonly<Record<string, string>>>>): Codec {
  let codec: Codec;
  if (column.kind === "enum") {
    const values = enums[column.type] ?? {};
    const mapped = Object.entries(values).some(([name, dbName]) => name !== dbName);
    const bind = (value: unknown) => {
      if (typeof value !== "string" || !(value in values)) throw new Unsupported(`a value that is not of enum ${column.type}`);
      return value;
    };
    codec = mapped ? unsupported(`enum ${column.type} maps its values (@map)`) : { read: asIs, revive: null, bind, orderable: true, why: "" };
  } else {
    codec = scalarCodec(column.type, column.nativeType);
  }
  if (!column.isList || !codec.read) return codec;
  // A list's elements can only be revived one by one in JavaScript: its SQL must be the column itself.
  if (codec.read !== asIs) {
    return unsupported(`a list of ${column.type}${column.nativeType ? ` @db.${column.nativeType}` : ""}`);
  }
  // Prisma on PGlite cannot read one.
  if (column.type === "Json") return unsupported("a list of Json");
  const { revive } = codec;
  return {
    read: codec.read,
    revive: revive && ((list) => (list as unknown[]).map((v) => (v === null ? v : revive(v)))),
    bind: null,
    orderable: false,
    why: "a filter on a list",
  };
}
