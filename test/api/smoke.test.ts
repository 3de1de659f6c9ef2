import { beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../gql/index.js";
import { type TestApi, testApi } from "../support/api.js";

let api: TestApi;
beforeAll(async () => {
  api = await testApi();
});

describe("smoke", () => {
  it("signs up, posts and reads the home timeline", async () => {
    const alice = await api.signUp({ handle: "alice" });
    const created = await api.execute(
      graphql(`mutation SmokeCreatePost { createPost(input: { body: "hello 👋🏽 world" }) { __typename ... on Post { id body author { handle } } ... on Error { message } } }`),
      {},
      { as: alice },
    );
    expect(created.errors).toBeUndefined();
    expect(created.data).toMatchObject({ createPost: { __typename: "Post", body: "hello 👋🏽 world", author: { handle: "alice" } } });
    const timeline = await api.executeCounted(
      graphql(`query SmokeTimeline { homeTimeline(first: 10) { edges { node { body likeCount viewerHasLiked author { handle followerCount } } } } }`),
      {},
      { as: alice },
    );
    expect(timeline.data).toMatchObject({ homeTimeline: { edges: [{ node: { body: "hello 👋🏽 world" } }] } });
  });
});
