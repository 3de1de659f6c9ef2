import { type Codec, codecOf } from "./types.js";

/**
 * The data model as scripts/sql-datamodel.mjs writes it from a Prisma schema (`generator sql`):
 * database names, types, keys and relations, the part of Prisma's DMMF the reader needs.
 */
export interface SqlDatamodel {
  readonly models: Readonly<Record<string, SqlModel>>;
  /** Each enum's values: Prisma's name to the database's. */
  readonly enums: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export interface SqlModel {
  readonly dbName: string;
  readonly schema: string | null;
  readonly fields: readonly SqlField[];
  /** Compound unique keys (a compound id too), by the name of their `where` input, e.g. `userId_postId`. */
  readonly compoundKeys: Readonly<Record<string, readonly string[]>>;
}

export interface SqlField {
  readonly name: string;
  readonly dbName: string;
  readonly kind: "scalar" | "enum" | "object";
  readonly type: string;
  readonly nativeType: string | null;
  readonly isList: boolean;
  readonly isRequired: boolean;
  /** `@unique` or `@id` on this field alone. */
  readonly isUnique: boolean;
  readonly relationName?: string;
  readonly relationFromFields?: readonly string[];
  readonly relationToFields?: readonly string[];
}

/** What the SQL reader needs to know of a Prisma model: its table, columns and relations. */
export interface ModelInfo {
  name: string;
  table: string;
  scalars: Map<string, ScalarInfo>;
  relations: Map<string, RelationInfo>;
  compoundKeys: Map<string, readonly string[]>;
}

export interface ScalarInfo {
  column: string;
  type: string;
  isList: boolean;
  isUnique: boolean;
  codec: Codec;
}

/** A relation as a join: each pair's related column equals this row's column. */
export interface RelationInfo {
  model: string;
  isList: boolean;
  /** [this row's column, the related row's column], one pair per field of the foreign key. */
  on: (readonly [string, string])[];
  /** This row holds the foreign key (the related row's key is in `on`). */
  holdsForeignKey: boolean;
  /** True when this row holds a required foreign key: the related row always exists. */
  requiredForeignKey: boolean;
}

export type Models = ReadonlyMap<string, ModelInfo>;

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

export function buildModels(datamodel: SqlDatamodel): Models {
  const models = new Map<string, ModelInfo>();
  const column = (model: string, field: string) => {
    const f = datamodel.models[model]!.fields.find((x) => x.name === field)!;
    return quote(f.dbName);
  };
  const pairs = (model: string, from: readonly string[], target: string, to: readonly string[]) =>
    from.map((field, i) => [column(model, field), column(target, to[i]!)] as const);
  for (const [name, model] of Object.entries(datamodel.models)) {
    const info: ModelInfo = {
      name,
      table: model.schema ? `${quote(model.schema)}.${quote(model.dbName)}` : quote(model.dbName),
      scalars: new Map(),
      relations: new Map(),
      compoundKeys: new Map(Object.entries(model.compoundKeys)),
    };
    for (const field of model.fields) {
      if (field.kind !== "object") {
        const codec = codecOf({ type: field.type, kind: field.kind, nativeType: field.nativeType, isList: field.isList }, datamodel.enums);
        info.scalars.set(field.name, { column: quote(field.dbName), type: field.type, isList: field.isList, isUnique: field.isUnique, codec });
        continue;
      }
      const from = field.relationFromFields ?? [];
      if (from.length > 0) {
        info.relations.set(field.name, {
          model: field.type,
          isList: false,
          on: pairs(name, from, field.type, field.relationToFields ?? []),
          holdsForeignKey: true,
          requiredForeignKey: from.every((f) => model.fields.find((x) => x.name === f)!.isRequired),
        });
        continue;
      }
      // The other side holds the foreign key: find its field of the same relation.
      const other = datamodel.models[field.type]!.fields.find(
        (f) => f.relationName === field.relationName && (f.relationFromFields?.length ?? 0) > 0 && f !== field,
      );
      // Implicit many-to-many relations have a join table of their own: not read here.
      if (!other) continue;
      info.relations.set(field.name, {
        model: field.type,
        isList: field.isList,
        on: pairs(field.type, other.relationFromFields!, name, other.relationToFields!).map(([remote, local]) => [local, remote] as const),
        holdsForeignKey: false,
        requiredForeignKey: false,
      });
    }
    models.set(name, info);
  }
  return models;
}
