import type { CodegenConfig } from "@graphql-codegen/cli";

// Types the operations the tests send, against the committed schema.graphql, as a client of Chirp would.
const config: CodegenConfig = {
  schema: "schema.graphql",
  documents: ["test/**/*.ts", "!test/gql/**", "!test/fixtures/*/generated/**"],
  ignoreNoDocuments: false,
  emitLegacyCommonJSImports: false,
  generates: {
    "test/gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        enumsAsTypes: true,
        useTypeImports: true,
        strictScalars: true,
        scalars: { DateTime: "string", ID: "string", File: "File" },
      },
    },
  },
};

export default config;
