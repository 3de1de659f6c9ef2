import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes, completeValue } from "@pothos/core";
import type { GraphQLFieldResolver } from "graphql";
import { DOMAIN_ERROR_CODES } from "../errors.js";
import { noteErrorCode } from "../observability/scope.js";

const TYPED_CODES = new Set<string>(DOMAIN_ERROR_CODES);

/**
 * Puts the code of a typed error result (a wrong password's AuthenticationError, a ValidationError)
 * in the request's log line, as top-level errors' codes are: failed log-ins show at info level.
 * First in the plugin list, it wraps the whole field, the errors plugin's handling of argument
 * errors included.
 */
export class TypedErrorCodesPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapArgMappers(
    resolver: GraphQLFieldResolver<unknown, Types["Context"], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types["Context"], object> {
    if (!fieldConfig.extensions?.pothosErrors) return resolver;
    return (parent, args, context, info) =>
      completeValue(resolver(parent, args, context, info), (result: unknown) => {
        // The errors plugin hands its typed results over as proxies of the error, which instanceof does not see through.
        const code = (result as { code?: unknown } | null)?.code;
        if (typeof code === "string" && TYPED_CODES.has(code)) noteErrorCode(code);
        return result;
      });
  }
}

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      typedErrorCodes: TypedErrorCodesPlugin<Types>;
    }
  }
}

const pluginName = "typedErrorCodes";
export default pluginName;

SchemaBuilder.registerPlugin(pluginName, TypedErrorCodesPlugin);
