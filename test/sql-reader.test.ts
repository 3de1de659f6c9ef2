import type { Prisma } from "@prisma/client";
import { beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../src/db.js";
import { loadDemoData } from "../src/demo.js";
import { datamodel } from "../src/generated/sql-datamodel.js";
import { compileFindMany } from "../src/sql/compile.js";
import { buildModels } from "../src/sql/model.js";
import { fallbackLog, sqlLog, workerDatabase } from "./support/database.js";

// The SQL reader must answer exactly what Prisma answers for the same arguments: each case runs both
// on the demo data and compares the rows (values, types, Date objects, nesting and order).

const models = buildModels(datamodel);
let db: Database;
let viewerId: number;
let handleKey: string;

beforeAll(async () => {
  db = (await workerDatabase()).db;
  await loadDemoData(db);
  // A user who follows people, likes posts and has reposted: every viewer filter has rows to find.
  const [viewer] = await db.prisma.$queryRaw<{ id: number; handle_key: string }[]>`
    SELECT u.id, u.handle_key FROM users u
    WHERE EXISTS (SELECT 1 FROM posts p WHERE p.author_id = u.id AND p.repost_of_id IS NOT NULL)
      AND EXISTS (SELECT 1 FROM likes l WHERE l.user_id = u.id)
    ORDER BY u.following_count DESC, u.id LIMIT 1`;
  viewerId = viewer!.id;
  handleKey = viewer!.handle_key;
});

type Delegate = { findMany(args: object): Promise<unknown[]> };
const delegate = (model: Prisma.ModelName) => (db.prisma as unknown as Record<string, Delegate>)[model[0]!.toLowerCase() + model.slice(1)]!;

/** Runs the arguments through the reader (which must compile them) and through Prisma, and compares. */
async function expectSameAsPrisma(model: Prisma.ModelName, args: object) {
  expect(() => compileFindMany(models, model, args)).not.toThrow();
  const before = sqlLog.length;
  const ours = await db.reader.findMany(model, args, () => Promise.reject(new Error("the reader fell back to Prisma")));
  expect(sqlLog.slice(before)).toHaveLength(1);
  const prisma = await delegate(model).findMany(args);
  expect(ours).toEqual(prisma);
  return ours;
}

const authorSelect = { select: { id: true, handle: true, displayName: true, avatarMediaId: true, createdAt: true } };

describe("SQL reader: the same rows as Prisma", () => {
  it("a home timeline page: OR, a relation filter through the author's followers, nested relations, viewer flags", async () => {
    const rows = await expectSameAsPrisma("Post", {
      where: { deletedAt: null, OR: [{ authorId: viewerId }, { author: { followers: { some: { followerId: viewerId } } } }] },
      orderBy: { id: "desc" },
      take: 30,
      include: {
        author: authorSelect,
        repostOf: { include: { author: authorSelect } },
        replyTo: { select: { id: true, author: { select: { handle: true } } } },
        likes: { where: { userId: viewerId }, take: 1, select: { id: true } },
        reposts: { where: { authorId: viewerId }, take: 1, select: { id: true } },
      },
    });
    expect(rows).toHaveLength(30);
    expect((rows as { createdAt: unknown }[])[0]!.createdAt).toBeInstanceOf(Date);
  });

  it("a user timeline by handle (the unique-key subquery) with replies excluded, and a keyset page after it", async () => {
    const first = (await expectSameAsPrisma("Post", {
      where: { author: { is: { handleKey } }, deletedAt: null, replyToId: null },
      orderBy: { id: "desc" },
      take: 5,
    })) as { id: number }[];
    await expectSameAsPrisma("Post", {
      where: { AND: [{ author: { is: { handleKey } }, deletedAt: null }, { id: { lt: first.at(-1)!.id } }] },
      orderBy: { id: "desc" },
      take: 5,
    });
  });

  it("posts with their entities (an enum, nullable relations) and a tag's page keyed by bigint ids", async () => {
    const entities = { orderBy: { start: "asc" }, include: { user: authorSelect, hashtag: true } } as const;
    const rows = (await expectSameAsPrisma("Post", { where: { entities: { some: {} } }, orderBy: { id: "desc" }, take: 20, include: { entities } })) as {
      entities: { kind: string }[];
    }[];
    expect(new Set(rows.flatMap((r) => r.entities.map((e) => e.kind)))).toEqual(new Set(["MENTION", "HASHTAG", "LINK"]));
    const [tag] = await db.prisma.hashtag.findMany({ orderBy: { postCount: "desc" }, take: 1 });
    const page = (await expectSameAsPrisma("Hashtag", {
      where: { id: tag!.id },
      include: { posts: { where: { id: { lt: 2n ** 62n } }, orderBy: { id: "desc" }, take: 5, include: { post: { include: { entities } } } } },
    })) as { posts: { id: bigint }[] }[];
    expect(typeof page[0]!.posts[0]!.id).toBe("bigint");
  });

  it("a backward page (negative take) comes back in the list's order", async () => {
    await expectSameAsPrisma("Post", { where: { id: { gt: 50 } }, orderBy: { id: "asc" }, take: -7, select: { id: true, body: true } });
  });

  it("nested pages of replies, two levels deep, with skip", async () => {
    await expectSameAsPrisma("Post", {
      where: { replyCount: { gte: 2 } },
      orderBy: { id: "asc" },
      take: 5,
      select: {
        id: true,
        replies: { orderBy: { id: "asc" }, take: 3, skip: 1, select: { id: true, editedAt: true, replies: { orderBy: { id: "asc" }, take: 2 } } },
      },
    });
  });

  it("scalar filters: in, notIn, not, null, ranges, an empty in", async () => {
    await expectSameAsPrisma("Post", { where: { id: { in: [1, 2, 3, 999_999] } }, orderBy: { id: "asc" } });
    await expectSameAsPrisma("Post", { where: { id: { notIn: [1, 2], lte: 10 }, replyToId: { not: null } }, orderBy: { id: "asc" } });
    await expectSameAsPrisma("Post", { where: { authorId: { not: viewerId }, id: { gt: 10, lt: 40 } }, orderBy: { id: "desc" } });
    await expectSameAsPrisma("Post", { where: { id: { in: [] } } });
    await expectSameAsPrisma("User", { where: { NOT: { role: "USER" } }, orderBy: { id: "asc" }, select: { id: true, role: true } });
  });

  it("list relation filters: some, none, every", async () => {
    await expectSameAsPrisma("User", { where: { likes: { some: { postId: { lt: 20 } } } }, orderBy: { id: "asc" }, select: { id: true } });
    await expectSameAsPrisma("User", { where: { posts: { none: {} } }, orderBy: { id: "asc" }, select: { id: true } });
    await expectSameAsPrisma("User", { where: { following: { every: { followeeId: { gt: 5 } } } }, orderBy: { id: "asc" }, select: { id: true } });
  });

  it("to-one relation filters: null, a nullable key through the related row's relations, a general filter", async () => {
    await expectSameAsPrisma("Post", { where: { replyTo: null }, orderBy: { id: "asc" }, take: 10, select: { id: true } });
    await expectSameAsPrisma("Post", { where: { replyTo: { likes: { some: { userId: viewerId } } } }, orderBy: { id: "asc" }, select: { id: true } });
    await expectSameAsPrisma("Post", { where: { author: { role: "USER", followerCount: { gt: 3 } } }, orderBy: { id: "asc" }, take: 10, select: { id: true } });
  });

  it("findFirst: a row, or null", async () => {
    const args = { where: { handleKey }, select: { id: true, email: true, createdAt: true, followers: { where: { followerId: viewerId }, take: 1, select: { id: true } } } };
    const fallback = () => Promise.reject(new Error("the reader fell back to Prisma"));
    expect(await db.reader.findFirst("User", args, fallback)).toEqual(await db.prisma.user.findUnique(args));
    expect(await db.reader.findFirst("User", { where: { handleKey: "nobody-here" } }, fallback)).toBeNull();
  });
});

describe("SQL reader: what it does not compile goes to Prisma", () => {
  const cases: [string, object, string][] = [
    ["a relation count", { select: { id: true, _count: { select: { likes: true } } }, take: 3 }, "field Post._count"],
    ["a text filter", { where: { body: { contains: "a" } }, take: 3 }, "filter contains"],
    ["a Prisma cursor", { cursor: { id: 10 }, take: 3, orderBy: { id: "asc" } }, "argument cursor"],
    ["an orderBy on a relation", { orderBy: { author: { handle: "asc" } }, take: 3 }, "orderBy Post.author"],
  ];
  for (const [what, args, reason] of cases) {
    it(`${what}: the fallback answers, and the reader reports it`, async () => {
      let fellBack = false;
      const reported = fallbackLog.length;
      const rows = await db.reader.findMany("Post", args as Prisma.PostFindManyArgs, (a) => {
        fellBack = true;
        return db.prisma.post.findMany(a as Prisma.PostFindManyArgs);
      });
      expect(fellBack).toBe(true);
      expect(fallbackLog.slice(reported)).toEqual([{ model: "Post", reason }]);
      expect(rows).toEqual(await db.prisma.post.findMany(args as Prisma.PostFindManyArgs));
    });
  }
});
