import {
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
} from "graphql";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeGlobalId } from "../../src/graphql/ids.js";
import { schema } from "../../src/schema.js";
import { graphql } from "../gql/index.js";
import { type Result, type TestApi, type TestUser, testApi } from "../support/api.js";

// PostgreSQL text cannot hold NUL, and Chirp wants no control characters or broken Unicode in what
// people write. One check covers every String argument and input field of the schema.

const CreatePost = graphql(`
  mutation TextCreatePost($body: String!) {
    createPost(input: { body: $body }) {
      __typename
      ... on Post { body }
      ... on ValidationError { fieldErrors { field message } }
    }
  }
`);
const UserByHandle = graphql(`
  query TextUser($handle: String!) {
    user(handle: $handle) { handle }
  }
`);

let api: TestApi;
let user: TestUser;
let admin: TestUser;
beforeAll(async () => {
  api = await testApi();
  user = await api.signUp({ handle: "text_user" });
  admin = await api.signUp({ handle: "text_admin", role: "ADMIN" });
});

const NOT_ALLOWED = (code: string) => `Contains a character that is not allowed (U+${code})`;

describe("text that Chirp does not store", () => {
  it.each([
    ["NUL", "a\u0000b", NOT_ALLOWED("0000")],
    ["a bell", "ding\u0007", NOT_ALLOWED("0007")],
    ["an escape sequence", "\u001b[31mred", NOT_ALLOWED("001B")],
    ["a lone carriage return", "one\rtwo", NOT_ALLOWED("000D")],
    ["DEL", "a\u007fb", NOT_ALLOWED("007F")],
    ["a C1 control", "next\u0085line", NOT_ALLOWED("0085")],
    ["a lone high surrogate", "broken \ud83d", "Contains an unpaired surrogate, which is not valid Unicode"],
    ["a lone low surrogate", "\ude00 broken", "Contains an unpaired surrogate, which is not valid Unicode"],
  ])("refuses %s in a post's body with a ValidationError, and stores nothing", async (_, body, message) => {
    const before = await api.db.post.count();
    const result = await api.execute(CreatePost, { body }, { as: user });
    expect(result.errors).toBeUndefined();
    expect(result.data?.createPost).toEqual({ __typename: "ValidationError", fieldErrors: [{ field: "body", message }] });
    expect(await api.db.post.count()).toBe(before);
  });

  it("takes tabs, newlines (also CRLF), emoji, combining marks and right-to-left text", async () => {
    for (const body of ["line one\nline two", "windows\r\nline", "col\tcol", "👩‍👩‍👧‍👦 🇫🇷", "e\u0301te\u0301", "مرحبا"]) {
      const result = await api.execute(CreatePost, { body }, { as: user });
      expect(result.data?.createPost, JSON.stringify(body)).toEqual({ __typename: "Post", body });
    }
  });

  it("refuses NUL in a query argument with a top-level BAD_USER_INPUT naming it, before any SQL", async () => {
    const result = await api.executeCounted(UserByHandle, { handle: "text\u0000user" });
    expect(result.data?.user ?? null).toBeNull();
    expect(result.errors?.map((e) => ({ message: e.message, code: e.extensions?.code }))).toEqual([
      { message: `handle: ${NOT_ALLOWED("0000")}`, code: "BAD_USER_INPUT" },
    ]);
    expect(result.statements).toEqual([]);
  });
});

/** A value of `type` for the walk below: `text` for every String, something acceptable elsewhere. */
function valueOf(type: GraphQLInputType, text: string, idFor: string): unknown {
  if (isNonNullType(type)) return valueOf(type.ofType, text, idFor);
  if (isListType(type)) return [valueOf(type.ofType, text, idFor)];
  if (isInputObjectType(type)) {
    return Object.fromEntries(Object.values(type.getFields()).map((f) => [f.name, valueOf(f.type, text, f.name.replace(/Ids?$/, ""))]));
  }
  if (isEnumType(type)) return type.getValues()[0]!.value;
  if (isScalarType(type)) {
    switch (type.name) {
      case "String":
        return text;
      case "ID":
        return encodeGlobalId(idFor === "replyTo" ? "Post" : idFor.charAt(0).toUpperCase() + idFor.slice(1), 1);
      case "Int":
        return 1;
      case "Boolean":
        return true;
      case "DateTime":
        return new Date(Date.now() + 86_400_000).toISOString();
      // JSON carries no file: refused as a variable (media.test.ts sends text with a real file).
      case "File":
        return "not a file";
    }
  }
  throw new Error(`no value for ${String(type)}`);
}

const hasString = (type: GraphQLInputType, seen = new Set<string>()): boolean => {
  const named = getNamedType(type);
  if (named.name === "String") return true;
  if (!isInputObjectType(named) || seen.has(named.name)) return false;
  seen.add(named.name);
  return Object.values(named.getFields()).some((f) => hasString(f.type, seen));
};

const rootFields = (root: GraphQLObjectType | null | undefined, kind: "query" | "mutation") =>
  Object.values(root?.getFields() ?? {})
    .filter((field) => field.args.some((a) => hasString(a.type)))
    .map((field) => [kind, field] as const);

describe("every String input of the schema", () => {
  const fields: (readonly ["query" | "mutation", GraphQLField<unknown, unknown>])[] = [
    ...rootFields(schema.getQueryType(), "query"),
    ...rootFields(schema.getMutationType(), "mutation"),
  ];

  it("has at least the inputs this test was written against", () => {
    expect(fields.map(([, f]) => f.name)).toEqual(expect.arrayContaining(["user", "userTimeline", "logIn", "signUp", "createPost", "updateProfile", "createApiToken"]));
  });

  it.each(fields.map(([kind, field]) => [`${kind} ${field.name}`, kind, field] as const))(
    "%s refuses NUL in its text as the caller's input, never as an unexpected error",
    async (_, kind, field) => {
      const variables = Object.fromEntries(field.args.map((a: GraphQLArgument) => [a.name, valueOf(a.type, "bad\u0000text", a.name)]));
      const definitions = field.args.map((a) => `$${a.name}: ${String(a.type)}`).join(", ");
      const call = `${field.name}(${field.args.map((a) => `${a.name}: $${a.name}`).join(", ")})`;
      const selection = isScalarType(getNamedType(field.type)) ? "" : " { __typename }";
      const document = `${kind} Probe(${definitions}) { ${call}${selection} }`;
      const result: Result<Record<string, { __typename?: string } | null>> = await api.execute(document, variables, { as: field.name === "setUserSuspended" ? admin : user });
      const typed = result.data?.[field.name]?.__typename;
      if (typed) expect(typed, JSON.stringify(result)).toBe("ValidationError");
      else expect(result.errors?.map((e) => e.extensions?.code), JSON.stringify(result)).toEqual(["BAD_USER_INPUT"]);
    },
  );
});
