import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from "@pothos/core";
import type { GraphQLFieldResolver } from "graphql";
import { badUserInput } from "./errors.js";

export const MAX_PAGE_SIZE = 100;

/**
 * Every connection must be asked for a bounded page: exactly one of `first` / `last`, from 1 to 100.
 * Pothos would otherwise fall back to a default size, or clamp silently.
 */
class ConnectionArgsPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types["Context"], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types["Context"], object> {
    const { args } = fieldConfig;
    if (!(args.first && args.last && args.after && args.before)) return resolver;
    return (parent, fieldArgs, context, info) => {
      checkPageArgs(fieldArgs as { first?: number | null; last?: number | null });
      return resolver(parent, fieldArgs, context, info);
    };
  }
}

function checkPageArgs({ first, last }: { first?: number | null; last?: number | null }) {
  if (first == null && last == null) throw badUserInput("Pass `first` or `last` to page through a connection.");
  if (first != null && last != null) throw badUserInput("Pass either `first` or `last`, not both.");
  const size = (first ?? last)!;
  if (size < 1 || size > MAX_PAGE_SIZE) {
    throw badUserInput(`\`${first != null ? "first" : "last"}\` must be between 1 and ${MAX_PAGE_SIZE}, got ${size}.`);
  }
}

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      connectionArgs: ConnectionArgsPlugin<Types>;
    }
  }
}

SchemaBuilder.registerPlugin("connectionArgs", ConnectionArgsPlugin);
export default "connectionArgs" as const;
