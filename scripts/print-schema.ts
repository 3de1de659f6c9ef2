import { writeFileSync } from "node:fs";
import { printSchema } from "graphql";
import { schema } from "../src/schema.js";

// schema.graphql is what clients generate from; the drift test fails when it differs from the code.
writeFileSync(new URL("../schema.graphql", import.meta.url), `${printSchema(schema)}\n`);
