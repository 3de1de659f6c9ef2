import { Prisma } from "@prisma/client";
import { getDatamodel } from "../generated/pothos-prisma-types.js";

/** What the SQL reader needs to know of a Prisma model: its table, columns and relations. */
export interface ModelInfo {
  name: string;
  table: string;
  idColumn: string;
  scalars: Map<string, ScalarInfo>;
  relations: Map<string, RelationInfo>;
}

export interface ScalarInfo {
  column: string;
  type: string;
  isList: boolean;
  isUnique: boolean;
}

/** A relation as a join: the related row's `remoteColumn` equals this row's `localColumn`. */
export interface RelationInfo {
  model: string;
  isList: boolean;
  localColumn: string;
  remoteColumn: string;
  /** True when this row holds a required foreign key: the related row always exists. */
  requiredForeignKey: boolean;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

function buildModels(): Map<string, ModelInfo> {
  // Prisma's runtime DMMF has the database names; Pothos' datamodel has list-ness, keys and foreign keys.
  const runtime = new Map(Prisma.dmmf.datamodel.models.map((m) => [m.name, m]));
  const pothos = getDatamodel().datamodel.models;
  const models = new Map<string, ModelInfo>();
  const idColumn = (model: string) => {
    const id = pothos[model]!.fields.find((f) => f.isId)!;
    return column(model, id.name);
  };
  const column = (model: string, field: string) => {
    const f = runtime.get(model)!.fields.find((x) => x.name === field)!;
    return quote(f.dbName ?? f.name);
  };
  for (const [name, model] of Object.entries(pothos)) {
    const info: ModelInfo = {
      name,
      table: quote(runtime.get(name)!.dbName ?? name),
      idColumn: idColumn(name),
      scalars: new Map(),
      relations: new Map(),
    };
    for (const field of model.fields) {
      if (field.kind === "scalar" || field.kind === "enum") {
        info.scalars.set(field.name, { column: column(name, field.name), type: field.type, isList: field.isList, isUnique: field.isUnique || field.isId });
        continue;
      }
      const from = field.relationFromFields ?? [];
      if (from.length === 1) {
        const fk = model.fields.find((f) => f.name === from[0])!;
        info.relations.set(field.name, {
          model: field.type,
          isList: false,
          localColumn: column(name, from[0]!),
          remoteColumn: idColumn(field.type),
          requiredForeignKey: fk.isRequired,
        });
        continue;
      }
      // The other side holds the foreign key: find its field of the same relation.
      const other = pothos[field.type]!.fields.find(
        (f) => f.relationName === field.relationName && (f.relationFromFields?.length ?? 0) === 1 && f !== field,
      );
      if (!other) continue;
      info.relations.set(field.name, {
        model: field.type,
        isList: field.isList,
        localColumn: idColumn(name),
        remoteColumn: column(field.type, other.relationFromFields![0]!),
        requiredForeignKey: false,
      });
    }
    models.set(name, info);
  }
  return models;
}

export const MODELS = buildModels();
