import { GraphQLError } from "graphql";

export const unauthenticated = (message: string) => new GraphQLError(message, { extensions: { code: "UNAUTHENTICATED" } });
export const forbidden = (message: string) => new GraphQLError(message, { extensions: { code: "FORBIDDEN" } });
export const badUserInput = (message: string) => new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT" } });
