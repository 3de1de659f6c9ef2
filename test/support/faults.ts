import { datamodel } from "../../src/generated/sql-datamodel.js";
import { buildModels } from "../../src/sql/model.js";
import { SqlReader } from "../../src/sql/reader.js";

/** A SQL reader whose every statement fails as a bug in Chirp would: with internals in its message. */
export const faultyReader = () =>
  new SqlReader(
    () => {
      throw new TypeError("cannot read properties of undefined (reading 'j') at /srv/chirp/secret-path.ts:42");
    },
    { models: buildModels(datamodel) },
  );
