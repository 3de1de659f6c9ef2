import SchemaBuilder, {
  BasePlugin,
  type InputFieldMapping,
  type InputTypeFieldsMapping,
  type PothosInputFieldConfig,
  type PothosInputFieldType,
  type PothosOutputFieldConfig,
  type SchemaTypes,
  mapInputFields,
} from "@pothos/core";
import { type FieldError, ValidationError } from "../errors.js";
import { globalIdProblem } from "./ids.js";

/**
 * Characters no text input may hold: NUL (PostgreSQL text cannot store it), other C0 and C1
 * control characters but tab and newline (and CR before a newline), and unpaired surrogates.
 */
const UNWANTED = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]|\r(?!\n)/;

export function textProblem(text: string): string | null {
  if (!text.isWellFormed()) return "Contains an unpaired surrogate, which is not valid Unicode";
  const found = UNWANTED.exec(text);
  if (!found) return null;
  return `Contains a character that is not allowed (U+${found[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")})`;
}

/** What to check of an input field: its text, or that it is a global ID of one of these types. */
type Check = "text" | { ids: readonly string[] };
type Mappings = Map<string, InputFieldMapping<SchemaTypes, Check>>;

/**
 * Checks every String and every typed global ID in every field's arguments, current and future,
 * before the field runs: as an argument mapper, it also runs when a parent's query is built from a
 * nested field's arguments. A problem is a ValidationError naming the input field, which the errors
 * plugin makes the typed result of a mutation and anything else turns into BAD_USER_INPUT.
 */
export class InputChecksPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  private readonly mappingCache = new Map<string, InputTypeFieldsMapping<Types, Check>>();

  override onOutputFieldConfig(fieldConfig: PothosOutputFieldConfig<Types>): PothosOutputFieldConfig<Types> {
    const mappings = mapInputFields(fieldConfig.args, this.buildCache, (field) => this.check(field), this.mappingCache);
    if (!mappings) return fieldConfig;
    const argMapper = (args: Record<string, unknown>) => {
      const problems: FieldError[] = [];
      collect(args, mappings as unknown as Mappings, "", problems);
      if (problems.length > 0) throw new ValidationError(problems);
      return args;
    };
    return { ...fieldConfig, argMappers: [argMapper, ...fieldConfig.argMappers] };
  }

  private check(field: PothosInputFieldConfig<Types>): Check | null {
    const relayFor = field.extensions?.relayGlobalIDFor as { typename: string }[] | null | undefined;
    if (relayFor) return { ids: relayFor.map((t) => t.typename) };
    return this.typeName(field.type) === "String" ? "text" : null;
  }

  private typeName(type: PothosInputFieldType<Types>): string {
    return type.kind === "List" ? this.typeName(type.type) : this.buildCache.getTypeConfig(type.ref).name;
  }
}

/** Field errors name the input field, relative to a mutation's `input` argument ("body", "postId"). */
function collect(values: Record<string, unknown>, mappings: Mappings, prefix: string, problems: FieldError[]) {
  for (const [name, mapping] of mappings) {
    const path = prefix === "" && name === "input" ? "" : `${prefix}${name}`;
    eachItem(values[name], mapping.listDepth, path, (value, field) => {
      if (mapping.kind === "InputObject") {
        if (mapping.fields.map && typeof value === "object") collect(value as Record<string, unknown>, mapping.fields.map as Mappings, field ? `${field}.` : "", problems);
        return;
      }
      const check = mapping.value;
      const problem = check === "text" ? textProblem(String(value)) : check ? globalIdProblem(String(value), check.ids) : null;
      if (problem) problems.push({ field: field || name, message: problem });
    });
  }
}

function eachItem(value: unknown, depth: number, path: string, visit: (value: unknown, path: string) => void) {
  if (value === null || value === undefined) return;
  if (depth === 0 || !Array.isArray(value)) return visit(value, path);
  value.forEach((item, i) => eachItem(item, depth - 1, `${path}.${i}`, visit));
}

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      inputChecks: InputChecksPlugin<Types>;
    }
  }
}

const pluginName = "inputChecks";
export default pluginName;

SchemaBuilder.registerPlugin(pluginName, InputChecksPlugin);
