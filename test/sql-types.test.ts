import { Prisma as AppPrisma } from "@prisma/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FixtureDatabase, openFixtureDatabase } from "./support/fixture-database.js";

// The SQL reader on a column of every Prisma scalar type (test/fixtures/all-types/schema.prisma):
// each one is read, filtered and ordered exactly as Prisma does, edge values and NULLs included, or
// the read goes to Prisma. Compound keys and a relation to a unique field that is not the id too.

let db: FixtureDatabase;

/** Every scalar field of Sample, and whether the reader reads it itself. */
const READ: Record<string, boolean> = {
  id: true, text: true, vtext: true, ctext: true, uuid: true, inet: true, bits: true, bool: true, int: true, small: true,
  big: true, float: true, real: true, dec: true, money: false, ts: true, ts6: true, tz: true, tz0: true, date: true,
  time: true, timetz: false, jsonb: true, json: true, bytes: true, mood: true, mapped: false, texts: true, ints: true,
  bigs: false, floats: true, decs: false, moods: true, mappeds: false, dates: true, jsons: false, bytess: true, holderId: true,
};
const readable = Object.keys(READ).filter((f) => READ[f]);
const selectAll = Object.fromEntries(readable.map((f) => [f, true]));

const ROWS = `
INSERT INTO "Holder" (id, name) VALUES (1, 'h1'), (2, 'h2'), (3, 'h3');
INSERT INTO samples (id, holder_id, text, vtext, ctext, uuid, inet, bits, bool, int, small, big, float, real, dec, money,
  ts, ts6, tz, tz0, date, time, timetz, jsonb, json, bytes, mood, mapped, texts, ints, bigs, floats, decs, moods, mappeds, dates, jsons, bytess)
VALUES
  (1, 1, 'plain', 'ten chars!', 'ab', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '10.0.0.1/8', B'101', true, 2147483647, -32768,
   9007199254740993, 0.1, 0.1, 12345678901234567890.123456789012345678901234567891, 1234.56,
   '2024-02-29 23:59:59.999', '2024-02-29 23:59:59.123999', '2024-02-29 23:59:59.123456+05:45', '2024-03-01 00:00:00-03:30',
   '2024-02-29', '23:59:59.999999', '12:00:00.5+05:30', '{"b": 1, "a": [1.0, 2e3, 12345678901234567890, "é\\n"], "c": {"d": null}}',
   '{"k": 1,  "k": 2}', '\\x00ff10', 'HAPPY', 'one', '{"quote \\" and comma ,", "", "ü"}', '{1, -2}', '{9007199254740993}',
   '{NaN, -0, Infinity, -Infinity, 1e308}', '{1.50}', '{SAD, HAPPY}', '{two}', '{"2024-01-01 00:00:00.001"}', ARRAY['{"a": 1}'::jsonb], ARRAY['\\x01'::bytea, '\\x'::bytea]),
  (2, 1, '', '', '', '00000000-0000-0000-0000-000000000000', '::1', B'', false, -2147483648, 0,
   -9223372036854775808, 'NaN', 'Infinity', -0.000000000000000000000000000001, -0.01,
   '0044-03-15 12:00:00', '1970-01-01 00:00:00.000001', '1900-01-01 00:00:00+00:53:28', '2038-01-19 03:14:08+00',
   '0001-01-01', '00:00:00', '00:00:00+00', '"just a string"', 'null', '\\x', 'SAD', 'two', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}'),
  (3, 2, 'ü', NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL,
   9223372036854775807, '-0', '-0', 99999999999999999999999999999999999.999999999999999999999999999999, NULL,
   '9999-12-31 23:59:59.999', NULL, '1970-01-01 00:00:00+00', NULL, '9999-12-31', NULL, NULL, '[1, "two", false]', '{}', NULL, NULL, NULL, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}'),
  (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}');
-- Values Prisma has no Date for: the reader reads them again through Prisma.
INSERT INTO samples (id, ts, date, texts, ints, bigs, floats, decs, moods, mappeds, dates, jsons, bytess)
VALUES (100, 'infinity', '10000-01-01', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}');
INSERT INTO "Tag" (id, holder_name) VALUES (1, 'h1'), (2, 'h1'), (3, 'h2');
INSERT INTO "Conversation" (id, title) VALUES (1, 'one'), (2, 'two');
INSERT INTO members (conversation_id, user_id, nickname) VALUES (1, 1, 'ann'), (1, 2, 'bo'), (2, 1, 'ann again'), (2, 3, 'cy');
INSERT INTO "Read" (id, conversation_id, user_id, message_id) VALUES (1, 1, 1, 10), (2, 1, 1, 11), (3, 1, 2, 10), (4, 2, 3, 12);
`;

beforeAll(async () => {
  db = await openFixtureDatabase("all-types");
  await db.exec(ROWS);
});

afterAll(() => db?.close());

/** Decimals of the fixture's client and of the app's are two classes: compare their digits. */
function comparable(value: unknown): unknown {
  if (db.Prisma.Decimal.isDecimal(value)) return { decimal: (value as AppPrisma.Decimal).toFixed() };
  if (Array.isArray(value)) return value.map(comparable);
  if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, comparable(v)]));
  }
  return value;
}

/** Reads through the reader, which must not fall back, and through Prisma, and compares. */
async function expectSameAsPrisma(model: string, args: object) {
  const reported = db.fallbacks.length;
  const ours = await db.reader.findMany(model, args, () => Promise.reject(new Error(`fell back: ${db.fallbacks.at(-1)?.reason}`)));
  expect(db.fallbacks.slice(reported)).toEqual([]);
  const theirs = await db.prisma[model[0]!.toLowerCase() + model.slice(1)]!.findMany(args);
  expect(comparable(ours)).toStrictEqual(comparable(theirs));
  return ours as Record<string, unknown>[];
}

/** findUnique (the reader's findFirst) through both, by a unique `where` only findUnique takes. */
async function expectSameUniqueAsPrisma(model: string, args: object) {
  const ours = await db.reader.findFirst(model, args, () => Promise.reject(new Error(`fell back: ${db.fallbacks.at(-1)?.reason}`)));
  const theirs = await db.prisma[model[0]!.toLowerCase() + model.slice(1)]!.findUnique(args);
  expect(ours).not.toBeNull();
  expect(comparable(ours)).toStrictEqual(comparable(theirs));
}

/** Expects the reader to hand the read to Prisma, saying why. */
async function expectFallback(model: string, args: object, reason: RegExp) {
  const reported = db.fallbacks.length;
  const answer = [{ from: "Prisma" }];
  expect(await db.reader.findMany(model, args, async () => answer)).toBe(answer);
  expect(db.fallbacks.slice(reported)).toEqual([{ model, reason: expect.stringMatching(reason) }]);
}

const byId = { orderBy: { id: "asc" }, where: { id: { lt: 100 } } };

describe("SQL reader: every scalar type read as Prisma reads it", () => {
  for (const [field, reads] of Object.entries(READ)) {
    it(reads ? `${field}: the same values` : `${field}: read through Prisma`, async () => {
      const args = { ...byId, select: { id: true, [field]: true } };
      if (reads) await expectSameAsPrisma("Sample", args);
      else await expectFallback("Sample", args, new RegExp(`Sample\\.${field}:`));
    });
  }

  it("the JavaScript types: bigint, the app's Prisma.Decimal, Date, Uint8Array, NaN and -0", async () => {
    const [first, second, third] = await expectSameAsPrisma("Sample", { ...byId, select: selectAll });
    expect(first!.big).toBe(9007199254740993n);
    expect(first!.dec).toBeInstanceOf(AppPrisma.Decimal);
    expect((first!.dec as AppPrisma.Decimal).toFixed()).toBe("12345678901234567890.123456789012345678901234567891");
    expect(first!.ts6).toEqual(new Date("2024-02-29T23:59:59.123Z"));
    expect(first!.tz).toEqual(new Date("2024-02-29T18:14:59.123Z"));
    expect(first!.time).toEqual(new Date("1970-01-01T23:59:59.999Z"));
    expect(first!.bytes).toEqual(new Uint8Array([0, 255, 16]));
    expect(first!.floats).toEqual([Number.NaN, -0, Infinity, -Infinity, 1e308]);
    expect(second!.big).toBe(-(2n ** 63n));
    expect(second!.float).toBeNaN();
    expect(second!.ts).toEqual(new Date("0044-03-15T12:00:00Z"));
    expect(third!.big).toBe(2n ** 63n - 1n);
    expect(Object.is(third!.float, -0)).toBe(true);
  });

  it("the same values nested in relations, to-one and lists", async () => {
    await expectSameAsPrisma("Holder", { orderBy: { id: "asc" }, select: { id: true, samples: { select: selectAll, orderBy: { id: "desc" } } } });
    await expectSameAsPrisma("Sample", { ...byId, select: { ...selectAll, holder: { select: { name: true, samples: { select: selectAll, orderBy: { id: "asc" } } } } } });
  });

  it("a value Prisma has no Date for (infinity, year 10000): the row is read again through Prisma", async () => {
    await expectFallback("Sample", { where: { id: 100 }, select: { id: true, ts: true } }, /timestamp infinity/);
    await expectFallback("Sample", { where: { id: 100 }, select: { id: true, date: true } }, /timestamp 10000-01-01/);
  });

  it("a timestamptz under any session TimeZone, even an offset in seconds (Europe/Amsterdam in 1900)", async () => {
    const args = { ...byId, select: { id: true, tz: true, tz0: true, ts: true, date: true, time: true } };
    const utc = await expectSameAsPrisma("Sample", args);
    for (const zone of ["Europe/Amsterdam", "America/St_Johns", "Asia/Kathmandu"]) {
      expect(await db.withTimeZone(zone, (reader) => reader.findMany("Sample", args, () => Promise.reject(new Error("fell back"))))).toEqual(utc);
    }
    expect(utc[1]!.tz).toEqual(new Date("1899-12-31T23:06:32Z"));
    expect(utc[0]!.tz0).toEqual(new Date("2024-03-01T03:30:00Z"));
  });
});

describe("SQL reader: every scalar type filtered and ordered as Prisma does", () => {
  const cases: [string, unknown, unknown][] = [
    ["text", "plain", ["", "ü"]],
    ["vtext", "ten chars!", [""]],
    ["ctext", "ab", ["ab   "]],
    ["uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", ["00000000-0000-0000-0000-000000000000"]],
    ["bool", false, []],
    ["int", 0, [2147483647, -2147483648]],
    ["small", -32768, [0]],
    ["big", 9007199254740993n, [9007199254740993n, 2n ** 63n - 1n]],
    ["float", 0.1, [0.1, -0]],
    ["real", 0.1, [0.1, 0]],
    ["ts", new Date("2024-02-29T23:59:59.999Z"), [new Date("0044-03-15T12:00:00Z")]],
    ["ts6", new Date("1970-01-01T00:00:00.000Z"), [new Date("2024-02-29T23:59:59.123Z")]],
    ["tz", new Date("2024-02-29T18:14:59.123Z"), [new Date("1970-01-01T00:00:00Z")]],
    ["tz0", new Date("2024-03-01T03:30:00Z"), [new Date("2038-01-19T03:14:08Z")]],
    ["mood", "SAD", ["HAPPY"]],
  ];
  for (const [field, value, list] of cases) {
    it(`${field}: equals, not, in, comparisons and null, bound as parameters`, async () => {
      const page = { orderBy: { id: "asc" }, select: { id: true, [field]: true } };
      const filters: unknown[] = [value, { not: value }, null, { not: null }];
      // Prisma has no in for Booleans, nor lt/gt for Booleans and enums.
      if (field !== "bool") filters.push({ in: list }, { notIn: list });
      if (field !== "bool" && field !== "mood") filters.push({ gt: value }, { lte: value });
      for (const filter of filters) await expectSameAsPrisma("Sample", { ...page, where: { id: { lt: 100 }, [field]: filter } });
    });
  }

  it("a BigInt filter given as a number", async () => {
    await expectSameAsPrisma("Sample", { select: { id: true, big: true }, where: { big: { gt: 0, in: [9007199254740993, 1] } }, orderBy: { id: "asc" } });
  });

  const fallbacks: [string, object, RegExp][] = [
    ["a Decimal", { dec: { gt: new AppPrisma.Decimal(1) } }, /Decimal filter/],
    ["a Date", { date: new Date("2024-02-29T00:00:00Z") }, /DateTime @db\.Date/],
    ["a Time", { time: { lt: new Date("1970-01-01T12:00:00Z") } }, /DateTime @db\.Time/],
    ["a Bytes", { bytes: new Uint8Array([0]) }, /Bytes filter/],
    ["a Json", { jsonb: { equals: { b: 1 } } }, /filter on Sample\.jsonb/],
    ["a list", { texts: { has: "ü" } }, /filter on Sample\.texts/],
    ["a mapped enum", { mapped: "ONE" }, /maps its values/],
    ["a DateTime that is not a Date", { ts: "2024-02-29T23:59:59.999Z" }, /not a Date/],
    ["a Date out of PostgreSQL's reach", { ts: { lt: new Date("+010000-01-01T00:00:00Z") } }, /outside years/],
    ["a value not of the enum", { mood: "GRUMPY" }, /not of enum Mood/],
    ["a Decimal in a relation's filter", { holder: { samples: { some: { dec: { gt: 1 } } } } }, /Decimal filter/],
  ];
  for (const [what, where, reason] of fallbacks) {
    it(`${what} filter goes to Prisma`, async () => {
      await expectFallback("Sample", { where, select: { id: true } }, reason);
    });
  }

  it("a Date filter in a nested list's where goes to Prisma", async () => {
    await expectFallback("Holder", { select: { samples: { where: { date: { lt: new Date() } }, select: { id: true } } } }, /DateTime @db\.Date/);
  });

  it("an orderBy on a Json column goes to Prisma", async () => {
    await expectFallback("Sample", { select: { id: true }, orderBy: { jsonb: "asc" } }, /orderBy Sample\.jsonb/);
  });

  for (const field of readable.filter((f) => !["jsonb", "json", "texts", "ints", "floats", "moods", "dates", "bytess"].includes(f))) {
    it(`orderBy ${field}, NULLs included, in the statement and in a nested list`, async () => {
      await expectSameAsPrisma("Sample", { ...byId, select: { id: true, [field]: true }, orderBy: [{ [field]: "desc" }, { id: "asc" }] });
      await expectSameAsPrisma("Holder", { select: { id: true, samples: { select: { id: true }, orderBy: [{ [field]: "asc" }, { id: "desc" }] } }, orderBy: { id: "asc" } });
    });
  }
});

describe("SQL reader: compound keys and a relation to a unique field", () => {
  it("a compound primary key: the rows, the relation to it and from it, by its where input", async () => {
    await expectSameAsPrisma("Conversation", { orderBy: { id: "asc" }, include: { members: { orderBy: [{ conversationId: "asc" }, { userId: "asc" }], include: { reads: { orderBy: { id: "asc" } } } } } });
    await expectSameUniqueAsPrisma("Member", { where: { conversationId_userId: { conversationId: 1, userId: 2 } }, include: { conversation: true, reads: true } });
  });

  it("a compound foreign key: joins and relation filters", async () => {
    await expectSameAsPrisma("Read", { orderBy: { id: "asc" }, include: { member: { include: { conversation: true } } } });
    await expectSameAsPrisma("Read", { orderBy: { id: "asc" }, where: { member: { nickname: "ann" } }, select: { id: true } });
    await expectSameAsPrisma("Read", { orderBy: { id: "asc" }, where: { member: { is: { conversation: { title: "two" } } } }, select: { id: true } });
    await expectSameAsPrisma("Member", { orderBy: [{ conversationId: "asc" }, { userId: "asc" }], where: { reads: { some: { messageId: 10 } } } });
    await expectSameAsPrisma("Member", { orderBy: [{ conversationId: "asc" }, { userId: "asc" }], where: { reads: { none: {} } } });
    await expectSameAsPrisma("Conversation", { orderBy: { id: "asc" }, where: { members: { every: { reads: { some: {} } } } } });
  });

  it("a named compound unique key as a where input", async () => {
    await expectSameUniqueAsPrisma("Read", { where: { byMessage: { userId: 1, messageId: 11 } }, include: { member: true } });
  });

  it("a foreign key to a unique field that is not the id", async () => {
    await expectSameAsPrisma("Tag", { orderBy: { id: "asc" }, include: { holder: true } });
    await expectSameAsPrisma("Holder", { orderBy: { id: "asc" }, include: { tags: { orderBy: { id: "asc" } } } });
    await expectSameAsPrisma("Tag", { orderBy: { id: "asc" }, where: { holder: { is: { name: "h2" } } } });
    await expectSameAsPrisma("Tag", { orderBy: { id: "asc" }, where: { holder: { samples: { some: { id: 3 } } } } });
  });
});
