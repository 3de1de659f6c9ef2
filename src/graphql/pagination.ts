/**
 * Turns the query Pothos builds for a connection over a list ordered by `id` into a keyset page.
 * Prisma's own `cursor` looks the cursor's row up first, so the page after a row deleted meanwhile
 * (an unlike, an unfollow, an undone repost) would come back empty. The sign of `take` gives the
 * direction (negative: `last`/`before`); useConnectionArgs has already checked the cursor holds an id.
 */
export function keysetPage<Q extends { cursor?: { id?: unknown }; take?: number; skip?: number }, W extends object>(
  { cursor, skip: _skip, ...query }: Q,
  order: "asc" | "desc",
  where?: W,
) {
  if (!cursor) return { ...query, skip: 0, where };
  const backward = (query.take ?? 0) < 0;
  // Forward through an ascending list, or backward through a descending one, goes to greater ids.
  const greater = backward === (order === "desc");
  const beyond = { id: greater ? { gt: cursor.id as number } : { lt: cursor.id as number } };
  return { ...query, skip: 0, where: where ? { AND: [where, beyond] } : beyond };
}
