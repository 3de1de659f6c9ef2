import type { ModelInfo, Models, RelationInfo, ScalarInfo } from "./model.js";
import { Unsupported } from "./types.js";

/**
 * Compiles the Prisma arguments Pothos builds (`select`/`include` with nested relations, `where`,
 * `orderBy`, `take`, `skip`) into one PostgreSQL statement that returns every row as JSON, with
 * the relations nested in it. Values go in as parameters, so a shape of query always gives the same
 * text and PostgreSQL can keep its plan. Anything outside the subset below throws Unsupported and the
 * caller asks Prisma instead.
 */
export interface FindArgs {
  where?: object;
  select?: object | null;
  include?: object | null;
  orderBy?: object | object[];
  take?: number;
  skip?: number;
  cursor?: unknown;
  distinct?: unknown;
}
type Where = Record<string, unknown>;
type OrderBy = Record<string, unknown>;

/** Turns the JSON of a row back into what Prisma returns (Date, bigint, Decimal, …); may throw Unsupported. */
export type Reviver = (row: Record<string, unknown>) => void;

export interface Compiled {
  text: string;
  values: unknown[];
  revive: Reviver;
  /** A negative `take` pages backwards: the rows come in reverse and are put back in order. */
  reversed: boolean;
}

export function compileFindMany(models: Models, modelName: string, args: FindArgs): Compiled {
  const c = new Compiler(models);
  const model = c.model(modelName);
  const { sql: object, revive } = c.object(model, "t0", args);
  const { clauses, reversed } = c.page(model, "t0", args);
  const text = `SELECT ${object} AS j FROM ${model.table} t0${clauses}`;
  return { text, values: c.values, revive, reversed };
}

const SCALAR_FILTERS = new Set(["equals", "not", "in", "notIn", "lt", "lte", "gt", "gte"]);
const ARG_KEYS = new Set(["select", "include", "where", "orderBy", "take", "skip"]);

class Compiler {
  values: unknown[] = [];
  private aliases = 0;

  constructor(private readonly models: Models) {}

  model(name: string): ModelInfo {
    const model = this.models.get(name);
    if (!model) throw new Unsupported(`unknown model ${name}`);
    return model;
  }

  private param(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }

  /** A filter value for a column, bound as Prisma would bind it. */
  private bind(scalar: ScalarInfo, value: unknown): string {
    if (!scalar.codec.bind) throw new Unsupported(`${scalar.codec.why} on ${scalar.column}`);
    return this.param(scalar.codec.bind(value));
  }

  private alias() {
    return `t${++this.aliases}`;
  }

  /** `json_build_object(…)` of the selected fields of a row, and how to revive it. */
  object(model: ModelInfo, alias: string, args: FindArgs): { sql: string; revive: Reviver } {
    for (const [key, value] of Object.entries(args)) {
      if (value !== undefined && !ARG_KEYS.has(key)) throw new Unsupported(`argument ${key}`);
    }
    if (args.select && args.include) throw new Unsupported("select and include");
    const fields: [string, true | FindArgs][] = [];
    if (!args.select) for (const name of model.scalars.keys()) fields.push([name, true]);
    for (const [name, value] of Object.entries((args.select ?? args.include ?? {}) as Record<string, unknown>)) {
      if (value === false || value === undefined) continue;
      if (value !== true && (typeof value !== "object" || value === null)) throw new Unsupported(`selection of ${name}`);
      fields.push([name, value as true | FindArgs]);
    }
    const pairs: string[] = [];
    const scalars: [string, (value: unknown) => unknown][] = [];
    const nested: [string, Reviver, boolean][] = [];
    for (const [name, value] of fields) {
      const scalar = model.scalars.get(name);
      if (scalar) {
        const { read, revive, why } = scalar.codec;
        if (!read) throw new Unsupported(`${model.name}.${name}: ${why}`);
        pairs.push(`'${name}', ${read(`${alias}.${scalar.column}`)}`);
        if (revive) scalars.push([name, revive]);
        continue;
      }
      const relation = model.relations.get(name);
      if (!relation) throw new Unsupported(`field ${model.name}.${name}`);
      const { sql, revive } = this.relation(relation, alias, value === true ? {} : value);
      pairs.push(`'${name}', ${sql}`);
      nested.push([name, revive, relation.isList]);
    }
    if (pairs.length > 50) throw new Unsupported("more than 50 fields");
    const revive: Reviver = (row) => {
      for (const [name, reviveScalar] of scalars) {
        const value = row[name];
        if (value !== null && value !== undefined) row[name] = reviveScalar(value);
      }
      for (const [name, reviveNested, isList] of nested) {
        const value = row[name];
        if (value === null || value === undefined) continue;
        if (isList) for (const item of value as Record<string, unknown>[]) reviveNested(item);
        else reviveNested(value as Record<string, unknown>);
      }
    };
    return { sql: `json_build_object(${pairs.join(", ")})`, revive };
  }

  private relation(relation: RelationInfo, parent: string, args: FindArgs): { sql: string; revive: Reviver } {
    const target = this.model(relation.model);
    const alias = this.alias();
    const { sql: object, revive } = this.object(target, alias, args);
    const join = joinOn(relation, parent, alias);
    if (!relation.isList) {
      if (args.where || args.orderBy || args.take !== undefined || args.skip !== undefined) throw new Unsupported("arguments on a to-one relation");
      return { sql: `(SELECT ${object} FROM ${target.table} ${alias} WHERE ${join})`, revive };
    }
    const { clauses, orderKeys } = this.page(target, alias, args, join);
    const order = orderKeys.length ? ` ORDER BY ${orderKeys.map(([, dir], i) => `x.o${i} ${dir}`).join(", ")}` : "";
    const keys = orderKeys.map(([key], i) => `, ${key} AS o${i}`).join("");
    const sql = `(SELECT coalesce(json_agg(x.j${order}), '[]'::json) FROM (SELECT ${object} AS j${keys} FROM ${target.table} ${alias}${clauses}) x)`;
    return { sql, revive };
  }

  /** WHERE, ORDER BY, LIMIT and OFFSET of a list, plus its order (in the order asked) for the caller. */
  page(model: ModelInfo, alias: string, args: FindArgs, join?: string) {
    const conditions = join ? [join] : [];
    if (args.where) conditions.push(...this.where(model, alias, args.where as Where));
    const reversed = (args.take ?? 0) < 0;
    const orderKeys: [string, "ASC" | "DESC"][] = [];
    for (const entry of [args.orderBy ?? []].flat()) {
      for (const [field, dir] of Object.entries(entry as OrderBy)) {
        const scalar = model.scalars.get(field);
        if (!scalar?.codec.orderable || (dir !== "asc" && dir !== "desc")) throw new Unsupported(`orderBy ${model.name}.${field}`);
        orderKeys.push([`${alias}.${scalar.column}`, dir === "asc" ? "ASC" : "DESC"]);
      }
    }
    let clauses = conditions.length ? ` WHERE ${conditions.join(" AND ")}` : "";
    if (orderKeys.length) {
      const flip = (dir: string) => (dir === "ASC" ? "DESC" : "ASC");
      clauses += ` ORDER BY ${orderKeys.map(([key, dir]) => `${key} ${reversed ? flip(dir) : dir}`).join(", ")}`;
    } else if (reversed) {
      throw new Unsupported("negative take without orderBy");
    }
    if (args.take !== undefined) clauses += ` LIMIT ${this.param(Math.abs(args.take))}`;
    if (args.skip) clauses += ` OFFSET ${this.param(args.skip)}`;
    return { clauses, orderKeys, reversed };
  }

  /** The conditions of a Prisma `where`, to be joined with AND. */
  private where(model: ModelInfo, alias: string, where: Where): string[] {
    const out: string[] = [];
    for (const [key, value] of Object.entries(where)) {
      if (value === undefined) continue;
      if (key === "AND" || key === "OR" || key === "NOT") {
        const parts = [value].flat().map((w) => this.where(model, alias, w as Where)).map(and);
        if (key === "AND") out.push(...parts);
        else if (key === "OR") out.push(parts.length ? `(${parts.join(" OR ")})` : "FALSE");
        else out.push(...parts.map((p) => `NOT ${p}`));
        continue;
      }
      const scalar = model.scalars.get(key);
      if (scalar) {
        // Prisma filters these with operators of their own (has, path, DbNull, …).
        if (scalar.isList || scalar.type === "Json") throw new Unsupported(`filter on ${model.name}.${key}`);
        out.push(...this.scalarFilter(scalar, alias, value));
        continue;
      }
      const compoundKey = model.compoundKeys.get(key);
      if (compoundKey) {
        // `{ userId_postId: { userId, postId } }`: each field of the key equals its value.
        const parts = Object.keys(value as object);
        if (parts.length !== compoundKey.length || !compoundKey.every((f) => parts.includes(f))) throw new Unsupported(`filter ${model.name}.${key}`);
        out.push(...this.where(model, alias, value as Where));
        continue;
      }
      const relation = model.relations.get(key);
      if (!relation) throw new Unsupported(`filter ${model.name}.${key}`);
      out.push(this.relationFilter(relation, alias, value as Where | null));
    }
    return out;
  }

  private scalarFilter(scalar: ScalarInfo, alias: string, value: unknown): string[] {
    const column = `${alias}.${scalar.column}`;
    if (value === null) return [`${column} IS NULL`];
    if (isValue(value)) return [`${column} = ${this.bind(scalar, value)}`];
    const out: string[] = [];
    for (const [op, operand] of Object.entries(value as Record<string, unknown>)) {
      if (operand === undefined) continue;
      if (!SCALAR_FILTERS.has(op)) throw new Unsupported(`filter ${op}`);
      switch (op) {
        case "equals":
          out.push(...this.scalarFilter(scalar, alias, operand));
          break;
        case "not":
          out.push(operand === null ? `${column} IS NOT NULL` : `NOT ${and(this.scalarFilter(scalar, alias, operand))}`);
          break;
        case "in":
        case "notIn": {
          const list = operand as unknown[];
          if (!Array.isArray(list) || list.some((v) => v === null)) throw new Unsupported("in list");
          if (!scalar.codec.bind) throw new Unsupported(`${scalar.codec.why} on ${scalar.column}`);
          if (list.length === 0) out.push(op === "in" ? "FALSE" : "TRUE");
          else out.push(`${op === "in" ? "" : "NOT "}${column} = ANY(${this.param(arrayLiteral(list.map(scalar.codec.bind)))})`);
          break;
        }
        default: {
          const sign = { lt: "<", lte: "<=", gt: ">", gte: ">=" }[op as "lt" | "lte" | "gt" | "gte"];
          if (operand === null) throw new Unsupported("comparison with null");
          out.push(`${column} ${sign} ${this.bind(scalar, operand)}`);
        }
      }
    }
    return out;
  }

  private relationFilter(relation: RelationInfo, parent: string, filter: Where | null): string {
    const target = this.model(relation.model);
    const alias = this.alias();
    const join = joinOn(relation, parent, alias);
    const exists = (where: Where, negate = false) => {
      const conditions = [join, ...this.where(target, alias, where)];
      return `${negate ? "NOT " : ""}EXISTS (SELECT 1 FROM ${target.table} ${alias} WHERE ${conditions.join(" AND ")})`;
    };
    if (relation.isList) {
      const entries = Object.entries(filter ?? {});
      if (entries.length !== 1) throw new Unsupported("list relation filter");
      const [op, where] = entries[0]! as [string, Where];
      if (op === "some") return exists(where);
      if (op === "none") return exists(where, true);
      if (op === "every") {
        const conditions = this.where(target, alias, where);
        return `NOT EXISTS (SELECT 1 FROM ${target.table} ${alias} WHERE ${join} AND NOT ${and(conditions)})`;
      }
      throw new Unsupported(`list relation filter ${op}`);
    }
    // The shortcuts below rewrite a one-column foreign key; a compound one takes the general EXISTS.
    const [local, remote] = relation.holdsForeignKey && relation.on.length === 1 ? relation.on[0]! : [];
    if (filter === null) {
      if (!local) throw new Unsupported("null filter on a relation without a one-column foreign key here");
      return `${parent}.${local} IS NULL`;
    }
    if ("isNot" in filter) throw new Unsupported("isNot");
    const where = ("is" in filter ? filter.is : filter) as Where | null;
    if (where === null) return this.relationFilter(relation, parent, null);
    const keys = Object.entries(where).filter(([, v]) => v !== undefined);
    if (local && remote && keys.length === 1) {
      // By a unique key: an equality with a subquery PostgreSQL runs once, so the parent's index on the
      // foreign key serves the rest (a join on the related table made it read and sort every match).
      const [field, value] = keys[0]!;
      const scalar = target.scalars.get(field);
      if (scalar?.isUnique && value !== null && isValue(value)) {
        return `${parent}.${local} = (SELECT ${alias}.${remote} FROM ${target.table} ${alias} WHERE ${alias}.${scalar.column} = ${this.bind(scalar, value)})`;
      }
    }
    // Only relations of the related row, through the key the foreign key refers to: that is its value.
    const throughKey = (field: string) => {
      const nested = target.relations.get(field);
      return nested?.on.length === 1 && nested.on[0]![0] === remote;
    };
    if (local && keys.length > 0 && keys.every(([field]) => throughKey(field))) {
      const conditions = this.where(target, alias, where).map((c) => c.split(`${alias}.${remote}`).join(`${parent}.${local}`));
      if (!relation.requiredForeignKey) conditions.unshift(`${parent}.${local} IS NOT NULL`);
      return and(conditions);
    }
    return exists(where);
  }
}

/** The join condition of a relation: the related row (`alias`) to its parent. */
const joinOn = (relation: RelationInfo, parent: string, alias: string) =>
  relation.on.map(([local, remote]) => `${alias}.${remote} = ${parent}.${local}`).join(" AND ");

// As text, typed by the column: PGlite cannot serialize a JavaScript array for an enum's array type.
// Numbers need no quotes: a viewer's hidden and muted users are hundreds of ids in every list's filter.
const arrayLiteral = (values: unknown[]) =>
  `{${values.map((v) => (typeof v === "number" || typeof v === "bigint" ? String(v) : `"${String(v).replace(/[\\"]/g, "\\$&")}"`)).join(",")}}`;

// Anything but a plain object is a value (a Date, a Decimal, bytes), not `{ equals, in, … }`.
const isValue = (value: unknown) => typeof value !== "object" || value === null || Object.getPrototypeOf(value) !== Object.prototype;

const and = (conditions: string[]) => (conditions.length === 0 ? "TRUE" : conditions.length === 1 ? conditions[0]! : `(${conditions.join(" AND ")})`);
