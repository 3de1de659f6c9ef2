import type { ApolloClient } from "@apollo/client";
import { decodeJwt } from "jose";
import { filter, firstValueFrom } from "rxjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type SessionStore, createChirpApollo, memorySessionStore, prependToHomeTimeline } from "../../examples/apollo/client.js";
import { CreatePost, HomeTimeline, LikePost, LogIn, MessageReceived, UploadMedia, Viewer } from "../../examples/apollo/operations.js";
import { type Sent, expiredToken, shortLivedToken, listenForClients, names, recordingFetch, sendMessage, timelineFixture } from "../support/clients.js";
import { type LiveApi, untilSubscribed } from "../support/live.js";
import { photo } from "../support/uploads.js";

// Apollo Client 4 as examples/apollo sets it up, against a listening Chirp: the recipe is what is tested.

let live: LiveApi;
beforeAll(async () => {
  live = await listenForClients();
});
afterAll(() => live.close());

/** A reader with a followed author's posts, logged in through the example's client. */
async function loggedIn(posts = 5) {
  const fixture = await timelineFixture(live, "apollo", posts);
  const sent: Sent[] = [];
  const session = memorySessionStore();
  const client = createChirpApollo({ url: live.url, session, webSocketImpl: WebSocket, fetch: recordingFetch(sent) });
  const { data } = await client.mutate({ mutation: LogIn, variables: { input: { login: fixture.reader.handle, password: fixture.password } } });
  if (data?.logIn.__typename !== "AuthPayload") throw new Error(JSON.stringify(data));
  session.set({ accessToken: data.logIn.accessToken, refreshToken: data.logIn.refreshToken });
  return { ...fixture, client, session, sent };
}

/** The home timeline as a screen watches it: the first page's result and the ObservableQuery to page on. */
async function watchTimeline(client: ApolloClient, first: number) {
  const query = client.watchQuery({ query: HomeTimeline, variables: { first } });
  // What the screen shows: the list of the latest result the query delivered.
  let shown: (string | null | undefined)[] = [];
  const subscription = query.subscribe(({ data }) => (shown = data?.homeTimeline?.edges?.map((edge) => edge?.node?.body) ?? []));
  const result = await firstValueFrom(query.pipe(filter((r) => r.dataState === "complete")));
  return { query, first: result.data.homeTimeline, shown: () => shown, stop: () => subscription.unsubscribe() };
}

const timeline = (client: ApolloClient) =>
  client.readQuery({ query: HomeTimeline, variables: { first: 2 } })?.homeTimeline.edges.map((edge) => edge.node.body);

describe("Apollo Client with examples/apollo", () => {
  it("logs in and pages the home timeline with fetchMore into one cached list", async () => {
    const { client, newestFirst, sent } = await loggedIn(5);
    const { query, first, shown, stop } = await watchTimeline(client, 2);
    expect(first.edges.map((e) => e.node.body)).toEqual(newestFirst.slice(0, 2));
    let pageInfo = first.pageInfo;
    while (pageInfo.hasNextPage) {
      const more = await query.fetchMore({ variables: { after: pageInfo.endCursor } });
      pageInfo = more.data!.homeTimeline.pageInfo;
    }
    // relayStylePagination merged the three pages into the one cached list, newest first.
    expect(timeline(client)).toEqual(newestFirst);
    await expect.poll(shown).toEqual(newestFirst);
    expect(names(sent)).toEqual(["LogIn", "HomeTimeline", "HomeTimeline", "HomeTimeline"]);
    stop();
  });

  it("likes a post: the cached post's likeCount and viewerHasLiked change from the mutation's result, with no refetch", async () => {
    const { client, sent } = await loggedIn(3);
    const { data } = await client.query({ query: HomeTimeline, variables: { first: 3 } });
    const post = data!.homeTimeline.edges[1]!.node;
    expect([post.likeCount, post.viewerHasLiked]).toEqual([0, false]);
    const before = sent.length;
    const liked = await client.mutate({ mutation: LikePost, variables: { postId: post.id } });
    expect(liked.data?.likePost).toMatchObject({ __typename: "Post", id: post.id, likeCount: 1, viewerHasLiked: true });
    const cached = client.readQuery({ query: HomeTimeline, variables: { first: 3 } })!.homeTimeline.edges[1]!.node;
    expect([cached.likeCount, cached.viewerHasLiked]).toEqual([1, true]);
    expect(names(sent.slice(before))).toEqual(["LikePost"]);
  });

  it("creates a post: it is at the top of the cached timeline, with no refetch", async () => {
    const { client, sent, newestFirst } = await loggedIn(3);
    const { query, first, shown, stop } = await watchTimeline(client, 2);
    await query.fetchMore({ variables: { after: first.pageInfo.endCursor } });
    const before = sent.length;
    const created = await client.mutate({ mutation: CreatePost, variables: { input: { body: "fresh from apollo" } }, update: prependToHomeTimeline });
    expect(created.data?.createPost.__typename).toBe("Post");
    expect(timeline(client)).toEqual(["fresh from apollo", ...newestFirst]);
    await expect.poll(shown).toEqual(["fresh from apollo", ...newestFirst]);
    expect(names(sent.slice(before))).toEqual(["CreatePost"]);
    // The list pages on from where it was: the next page after the last cached post is empty.
    const more = await query.fetchMore({ variables: { after: client.readQuery({ query: HomeTimeline, variables: { first: 2 } })!.homeTimeline.pageInfo.endCursor } });
    expect(more.data?.homeTimeline.edges).toEqual([]);
    expect(timeline(client)).toHaveLength(4);
    stop();
  });

  it("uploads a picture with uploadMedia (multipart, with the CSRF header) and attaches it to a post", async () => {
    const { client, sent } = await loggedIn(0);
    const file = new File([await photo(640, 480)], "holiday.jpg", { type: "image/jpeg" });
    const uploaded = await client.mutate({ mutation: UploadMedia, variables: { input: { file, altText: "a gradient" } } });
    const media = uploaded.data?.uploadMedia;
    if (media?.__typename !== "Media") throw new Error(JSON.stringify(uploaded));
    expect(media).toMatchObject({ width: 640, height: 480, altText: "a gradient" });
    const created = await client.mutate({ mutation: CreatePost, variables: { input: { body: "with a picture", mediaIds: [media.id] } } });
    expect(created.data?.createPost).toMatchObject({ __typename: "Post", media: [{ id: media.id, url: media.url }] });
    const image = await fetch(new URL(media.url, live.url));
    expect([image.status, image.headers.get("content-type")]).toEqual([200, "image/jpeg"]);
    expect(sent.map((request) => [request.operationName, request.multipart])).toEqual([
      ["LogIn", false],
      ["UploadMedia", true],
      ["CreatePost", false],
    ]);
  });

  it("receives a message live over GraphQLWsLink, sent by another user over HTTP", async () => {
    const { client, reader, author } = await loggedIn(0);
    const open = live.realtime.openStreams;
    const received: { body: string; sender: string }[] = [];
    const subscription = client.subscribe({ query: MessageReceived }).subscribe(({ data }) => {
      if (data) received.push({ body: data.messageReceived.body, sender: data.messageReceived.sender.handle });
    });
    await untilSubscribed(live.realtime, open + 1);
    await sendMessage(live, author, reader, "hello over the socket");
    await expect.poll(() => received, { timeout: 5_000 }).toEqual([{ body: "hello over the socket", sender: author.handle }]);
    subscription.unsubscribe();
  });

  it("a subscription outlives its access token: Chirp closes the socket (4403), the link refreshes and resubscribes", async () => {
    const { client, session, sent, reader, author } = await loggedIn(0);
    const current = session.get()!;
    session.set({ ...current, accessToken: await shortLivedToken(current.accessToken, 2) });
    const open = live.realtime.openStreams;
    const received: string[] = [];
    const subscription = client.subscribe({ query: MessageReceived }).subscribe(({ data }) => data && received.push(data.messageReceived.body));
    await untilSubscribed(live.realtime, open + 1);
    // The token expires, the stream ends; graphql-ws reconnects and the subscription comes back.
    await expect.poll(() => names(sent).includes("RefreshSession"), { timeout: 10_000 }).toBe(true);
    await untilSubscribed(live.realtime, open + 1);
    await sendMessage(live, author, reader, "after the refresh");
    await expect.poll(() => received, { timeout: 5_000 }).toEqual(["after the refresh"]);
    expect(names(sent).filter((name) => name === "RefreshSession")).toHaveLength(1);
    subscription.unsubscribe();
  });

  it("recovers from an expired access token: one refresh for several failing operations, each retried once", async () => {
    const { client, session, sent, reader } = await loggedIn(2);
    const stale = await expire(session);
    const before = sent.length;
    const [viewer, home, small] = await Promise.all([
      client.query({ query: Viewer, fetchPolicy: "network-only" }),
      client.query({ query: HomeTimeline, variables: { first: 2 }, fetchPolicy: "network-only" }),
      client.query({ query: HomeTimeline, variables: { first: 1 }, fetchPolicy: "network-only" }),
    ]);
    expect(viewer.data?.viewer?.handle).toBe(reader.handle);
    expect(home.data?.homeTimeline.edges).toHaveLength(2);
    expect(small.data?.homeTimeline.edges).toHaveLength(1);
    const after = names(sent.slice(before));
    expect(after.filter((name) => name === "RefreshSession")).toHaveLength(1);
    // Three sent with the stale token, the refresh, three retries.
    expect(after).toHaveLength(7);
    const fresh = session.get()!;
    expect(fresh.accessToken).not.toBe(stale);
    expect(decodeJwt(fresh.accessToken).exp! * 1000).toBeGreaterThan(Date.now());
  });

  it("gives up when the session ended: the refresh fails, the session is cleared and the error reaches the caller", async () => {
    const fixture = await timelineFixture(live, "apollo", 0);
    const sent: Sent[] = [];
    let ended = 0;
    const session = memorySessionStore();
    const client = createChirpApollo({ url: live.url, session, webSocketImpl: WebSocket, fetch: recordingFetch(sent), onSessionEnded: () => ended++ });
    session.set({ accessToken: await expiredToken(fixture.reader.token), refreshToken: fixture.reader.refreshToken });
    await live.execute(`mutation { logOut }`, {}, fixture.reader);
    const error = await client.query({ query: Viewer, fetchPolicy: "network-only" }).then(
      () => undefined,
      (e: { errors?: { extensions?: { code?: string } }[] }) => e,
    );
    expect(error?.errors?.map((e) => e.extensions?.code)).toEqual(["UNAUTHENTICATED"]);
    expect([names(sent), session.get(), ended]).toEqual([["Viewer", "RefreshSession"], null, 1]);
  });
});

/** Swaps the stored access token for an expired one of the same session; returns it. */
async function expire(session: SessionStore) {
  const current = session.get()!;
  const stale = await expiredToken(current.accessToken);
  session.set({ ...current, accessToken: stale });
  return stale;
}
