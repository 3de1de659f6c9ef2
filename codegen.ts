import type { CodegenConfig } from "@graphql-codegen/cli";

// Chirp's scalars as they travel: DateTime is an ISO 8601 string in UTC, File a multipart upload.
const scalars = { DateTime: "string", ID: "string", File: "File" };
const typedOperations = {
  preset: "client",
  // Operations return their whole selection: the caches' updaters read the fields they write.
  presetConfig: { fragmentMasking: false },
  config: { enumsAsTypes: true, useTypeImports: true, strictScalars: true, scalars },
} as const;

// Types the operations of the tests and of the client examples, against the committed schema.graphql,
// as a client of Chirp would; each gets its own graphql() so that an example copies on its own.
const config: CodegenConfig = {
  schema: "schema.graphql",
  ignoreNoDocuments: false,
  emitLegacyCommonJSImports: false,
  generates: {
    "test/gql/": { ...typedOperations, documents: ["test/**/*.ts", "!test/gql/**", "!test/fixtures/*/generated/**"] },
    "examples/apollo/gql/": { ...typedOperations, documents: ["examples/apollo/**/*.ts", "!examples/apollo/gql/**"] },
    // Apollo's InMemoryCache: the members of every union (each mutation's result) and interface (Node, Error).
    "examples/apollo/gql/possible-types.ts": { plugins: ["fragment-matcher"], config: { useExplicitTyping: true } },
    "examples/urql/gql/": { ...typedOperations, documents: ["examples/urql/**/*.ts", "!examples/urql/gql/**"] },
    // Graphcache's schema awareness: it tells a ValidationError from a Post in a result, and partial data from missing.
    "examples/urql/gql/urql-schema.ts": { plugins: ["urql-introspection"], config: { useTypeImports: true } },
  },
};

export default config;
