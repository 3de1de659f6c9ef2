import { badUserInput } from "./errors.js";

/** The largest PostgreSQL `integer`, the type of our serial keys. */
export const MAX_INT_ID = 2_147_483_647;

/** The numeric primary key inside a decoded global ID. */
export function intId(globalId: { id: string; typename: string }): number {
  const id = Number(globalId.id);
  if (!/^\d{1,10}$/.test(globalId.id) || id > MAX_INT_ID) throw badUserInput(`Invalid ${globalId.typename} ID.`);
  return id;
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function uuidId(globalId: { id: string; typename: string }): string {
  if (!UUID.test(globalId.id)) throw badUserInput(`Invalid ${globalId.typename} ID.`);
  return globalId.id;
}
