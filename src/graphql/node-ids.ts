import { type GraphQLSchema, isObjectType } from "graphql";
import { encodeGlobalId } from "./ids.js";

/**
 * plugin-relay resolves every global ID with an async function: one promise per row, which graphql-js
 * then waits for object by object (a tenth of the CPU of a 61-post thread). A Node's ID is its type
 * name and its row's `id`, encoded as plugin-relay does, so it is resolved here at once.
 */
export function resolveNodeIdsSynchronously(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || !type.getInterfaces().some((i) => i.name === "Node")) continue;
    const field = type.getFields().id!;
    const typename = type.name;
    field.resolve = (row: { id: string | number }) => encodeGlobalId(typename, row.id);
  }
  return schema;
}
