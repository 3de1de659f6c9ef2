import { beforeAll } from "vitest";
import { workerDatabase } from "./database.js";

beforeAll(async () => {
  const { reset } = await workerDatabase();
  await reset();
});
