import type { Prisma } from "@prisma/client";
import { badUserInput } from "./errors.js";
import { KEY_PARSERS, keyKindOf } from "./ids.js";
import type { Viewer } from "../modules/auth/viewer.js";
import { visibleRows } from "../modules/blocks/visibility.js";

const CURSOR_TYPES = { int: "number", bigint: "bigint", uuid: "string" } as const;

/**
 * Turns the query Pothos builds for a connection over a model's rows ordered by `id` (or `key`,
 * another unique column of ids) into a keyset page. Prisma's own `cursor` looks the cursor's row up
 * first, so the page after a row deleted meanwhile (an unlike, an unfollow, an undone repost) would
 * come back empty. The sign of `take` gives the direction (negative: `last`/`before`). The cursor
 * must hold a key of `model`, checked here, before the query is built into any statement; the `where`
 * of the query and `where` are kept.
 * Every list pages through here, so this is where blocks hide rows (modules/blocks/visibility.ts),
 * unless `blocked: "shown"`: a thread keeps its shape, its hidden posts showing as unavailable.
 */
export function keysetPage<Q extends { cursor?: Record<string, unknown>; take?: number; skip?: number; where?: object }, W extends object>(
  ctx: { viewer: Viewer | null },
  model: Prisma.ModelName,
  { cursor, skip: _skip, ...query }: Q,
  order: "asc" | "desc",
  where?: W,
  { blocked = "hidden", key = "id" }: { blocked?: "hidden" | "shown"; key?: string } = {},
) {
  const visible = blocked === "hidden" ? visibleRows(ctx.viewer, model) : undefined;
  const conditions: object[] = [query.where, where, visible].filter((w): w is object => w !== undefined);
  const backward = (query.take ?? 0) < 0;
  if (cursor) {
    const kind = keyKindOf(model, key);
    // Pothos writes each kind of key as a cursor of its own JavaScript type: anything else is not ours.
    const written = kind !== null && typeof cursor[key] === CURSOR_TYPES[kind];
    const value = written ? KEY_PARSERS[kind!](String(cursor[key])) : null;
    if (value === null) throw badUserInput(`\`${backward ? "before" : "after"}\` is not a cursor of this list.`);
    // Forward through an ascending list, or backward through a descending one, goes to greater keys.
    const greater = backward === (order === "desc");
    conditions.push({ [key]: greater ? { gt: value } : { lt: value } });
  }
  return { ...query, skip: 0, where: conditions.length > 1 ? { AND: conditions } : conditions[0] };
}
