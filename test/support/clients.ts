import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT, decodeJwt } from "jose";
import { signAccessToken } from "../../src/modules/auth/credentials.js";
import { testConfig } from "./api.js";
import { type LiveApi, listenApi } from "./live.js";

/** A listening server whose uploads go to a fresh folder, for the client libraries' tests. */
export async function listenForClients() {
  const dir = await mkdtemp(join(tmpdir(), "chirp-clients-"));
  return listenApi({ ...testConfig, media: { ...testConfig.media, storage: { driver: "disk", dir } } });
}

/** What a client library sent over HTTP: each request's operation name, in order. */
export interface Sent {
  operationName: string;
  multipart: boolean;
}

/** A fetch that records every request a client makes, so a test can tell that nothing was refetched. */
export function recordingFetch(sent: Sent[]): typeof fetch {
  return (input, init) => {
    const body = init?.body;
    // urql sends queries as GET (preferGetMethod), with the operation in the URL.
    const json = body instanceof FormData ? String(body.get("operations")) : typeof body === "string" ? body : "{}";
    const operationName = (JSON.parse(json) as { operationName?: string }).operationName ?? new URL(String(input)).searchParams.get("operationName") ?? "";
    sent.push({ operationName, multipart: body instanceof FormData });
    return fetch(input, init);
  };
}

export const names = (sent: Sent[]) => sent.map((request) => request.operationName);

/**
 * A reader who follows an author with `posts` posts, and the password to log in with. Following
 * the author also lets the author message the reader (messagePolicy FOLLOWING).
 */
export async function timelineFixture(live: LiveApi, prefix: string, posts: number) {
  const reader = await live.signUp(prefix);
  const author = await live.signUp(prefix);
  await live.execute(`mutation ($id: ID!) { follow(input: { userId: $id }) { __typename } }`, { id: author.id }, reader);
  const bodies: string[] = [];
  for (let i = 1; i <= posts; i++) {
    const body = `${prefix} post ${i}`;
    const result = await live.execute(`mutation ($body: String!) { createPost(input: { body: $body }) { __typename } }`, { body }, author);
    if (result.data?.createPost.__typename !== "Post") throw new Error(JSON.stringify(result));
    bodies.push(body);
  }
  // Newest first, as the home timeline shows them.
  return { reader, author, password: "correct horse battery", newestFirst: bodies.reverse() };
}

/** A token of the user's real session that expired a minute ago: what a client holds after a break. */
export function expiredToken(token: string) {
  const { sub, sid } = decodeJwt(token) as { sub: string; sid: string };
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sid })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuer(testConfig.jwt.issuer)
    .setAudience(testConfig.jwt.audience)
    .setIssuedAt(now - 960)
    .setExpirationTime(now - 60)
    .sign(testConfig.jwt.secret);
}

/** A token of the user's real session that expires in `seconds`, signed as the server signs them. */
export async function shortLivedToken(token: string, seconds: number) {
  const { sub, sid } = decodeJwt(token) as { sub: string; sid: string };
  return (await signAccessToken({ ...testConfig.jwt, accessTtl: seconds }, Number(sub), sid)).token;
}

/** The second user opens a conversation with the reader and sends a message, over HTTP. */
export async function sendMessage(live: LiveApi, from: { token: string }, to: { id: string }, body: string) {
  const result = await live.execute(
    `mutation ($input: StartConversationInput!) { startConversation(input: $input) { __typename ... on Error { message } } }`,
    { input: { memberIds: [to.id], body } },
    from,
  );
  if (result.data?.startConversation.__typename !== "Conversation") throw new Error(JSON.stringify(result));
}
