// The ceiling: a plain node:http server that answers each scenario with one hand-written SQL
// statement building the whole response as JSON inside PostgreSQL, written out as Chirp would write
// it. No GraphQL, no validation beyond the ids: what a request costs when nothing else is in the way.
// Compiled to plain JS by the runner (servers.ts) and run with node. Environment: DATABASE_URL,
// PORT, HOST (127.0.0.1), DATABASE_POOL_SIZE (10). The viewer is the X-Viewer-Id request header.
import { type ServerResponse, createServer } from "node:http";
import pg from "pg";

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error("DATABASE_URL is required");
const pool = new pg.Pool({ connectionString, max: Number(process.env.DATABASE_POOL_SIZE ?? 10) });

const gid = (type: string, column: string) => `encode(convert_to('${type}:' || ${column}, 'UTF8'), 'base64')`;
const iso = (column: string) => `to_char(${column}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
// The small size of the avatar upload, as Chirp writes its URL.
const avatarUrl = (u: string) =>
  `(SELECT '/media/' || m.id || '/' || m.key || '-small.' || CASE m.format WHEN 'jpeg' THEN 'jpg' ELSE m.format END FROM media m WHERE m.id = ${u}.avatar_media_id)`;
const author = (u: string) => `json_build_object('id', ${gid("User", `${u}.id`)}, 'handle', ${u}.handle, 'displayName', ${u}.display_name, 'avatarUrl', ${avatarUrl(u)})`;
/** A post as Chirp's PostView selection; the viewer is parameter $1 (NULL when anonymous). */
const post = (p: string, extra = "") => `json_build_object('id', ${gid("Post", `${p}.id`)}, 'body', ${p}.body, 'createdAt', ${iso(`${p}.created_at`)},
  'likeCount', ${p}.like_count, 'replyCount', ${p}.reply_count, 'repostCount', ${p}.repost_count,
  'viewerHasLiked', EXISTS (SELECT 1 FROM likes l WHERE l.user_id = $1 AND l.post_id = ${p}.id)${extra})`;
const edges = (list: string) => `json_build_object('edges', coalesce(${list}, '[]'::json))`;
/** The first 10 replies of post `parent` (oldest first), each with its author and `inner` fields. */
const replies = (alias: string, parent: string, inner = "") => edges(`(SELECT json_agg(json_build_object('node', ${post(alias, `, 'author', ${author(`${alias}_u`)}${inner}`)}) ORDER BY ${alias}.id)
  FROM (SELECT * FROM posts WHERE reply_to_id = ${parent}.id ORDER BY id LIMIT 10) ${alias} JOIN users ${alias}_u ON ${alias}_u.id = ${alias}.author_id)`);

// ── The REST home timeline (GET /api/timeline/home), as Chirp's REST route writes it: every field of
// a post and of its author, entities and media, and the same of the posts it replies to, reposts and
// starts its thread with; keys in SOFA's (alphabetical) order. `v` is the viewer's row of the statement.

/** A user as Chirp's REST view selects it; its relation to the viewer ($1) read here, Chirp's from the credential. */
const restUser = (u: string) => `json_build_object('avatarUrl', ${avatarUrl(u)}, 'bio', ${u}.bio,
  'blocksViewer', EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = ${u}.id AND b.blocked_id = $1),
  'createdAt', ${iso(`${u}.created_at`)}, 'displayName', ${u}.display_name, 'followerCount', ${u}.follower_count, 'followingCount', ${u}.following_count,
  'followsViewer', EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = ${u}.id AND f.followee_id = $1),
  'handle', ${u}.handle, 'id', ${gid("User", `${u}.id`)}, 'isSuspended', ${u}.suspended_at IS NOT NULL, 'messagePolicy', ${u}.message_policy,
  'postCount', ${u}.post_count, 'role', ${u}.role,
  'viewerFollows', EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $1 AND f.followee_id = ${u}.id),
  'viewerHasBlocked', EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $1 AND b.blocked_id = ${u}.id),
  'viewerHasMuted', EXISTS (SELECT 1 FROM mutes m WHERE m.muter_id = $1 AND m.muted_id = ${u}.id))`;

/** The JSON of user `id` (an SQL expression) from the statement's `people`, where each user is written once. */
const person = (id: string) => `(SELECT people.written FROM people WHERE people.id = ${id})`;

/**
 * A post as Chirp's REST view selects it, unavailable across a block as Chirp shows it. `linked`: the
 * JSON of the posts it replies to, reposts and starts its thread with (one level, SOFA's depth), by
 * id, or none for a linked post itself.
 */
const restPost = (a: string, linked?: (column: string) => string): string => {
  const hidden = `(${a}.author_id = ANY (v.hidden))`;
  const unlessHidden = (value: string, otherwise = "NULL") => `CASE WHEN ${hidden} THEN ${otherwise} ELSE ${value} END`;
  const entities = `coalesce((SELECT json_agg(json_build_object('end', e.end_offset,
      'hashtag', (SELECT json_build_object('id', ${gid("Hashtag", "h.id")}, 'name', h.name, 'postCount', h.post_count) FROM hashtags h WHERE h.id = e.hashtag_id),
      'kind', e.kind, 'start', e.start_offset, 'text', e.text, 'url', e.url,
      'user', CASE WHEN e.user_id = ANY (v.hidden) THEN NULL ELSE ${person("e.user_id")} END) ORDER BY e.start_offset)
    FROM post_entities e WHERE e.post_id = ${a}.id), '[]'::json)`;
  const media = `coalesce((SELECT json_agg(json_build_object('altText', pm.alt_text, 'contentType', 'image/' || pm.format, 'dominantColor', pm.color,
      'height', pm.height, 'id', ${gid("Media", "pm.id")}, 'url', '/media/' || pm.id || '/' || pm.key || '-large.' || CASE pm.format WHEN 'jpeg' THEN 'jpg' ELSE pm.format END,
      'width', pm.width) ORDER BY pm.position)
    FROM media pm WHERE pm.post_id = ${a}.id AND pm.removed_at IS NULL), '[]'::json)`;
  return `json_build_object(
    'author', ${unlessHidden(person(`${a}.author_id`))},
    'body', ${unlessHidden(`${a}.body`)}, 'createdAt', ${iso(`${a}.created_at`)}, 'deletedAt', ${iso(`${a}.deleted_at`)},
    'editedAt', ${unlessHidden(iso(`${a}.edited_at`))}, 'entities', ${unlessHidden(entities, "'[]'::json")},
    'id', ${gid("Post", `${a}.id`)}, 'isDeleted', ${a}.deleted_at IS NOT NULL, 'isUnavailable', ${hidden}, 'likeCount', ${a}.like_count,
    'media', ${unlessHidden(media, "'[]'::json")}, 'replyCount', ${a}.reply_count,
    ${linked ? `'replyTo', ${linked("reply_to_id")},` : ""} 'repostCount', ${a}.repost_count,
    ${linked ? `'repostOf', ${unlessHidden(linked("repost_of_id"))}, 'threadRoot', ${linked("root_id")},` : ""}
    'viewerCanDelete', $1::int IS NOT NULL AND ${a}.deleted_at IS NULL AND (${a}.author_id = $1 OR v.admin),
    'viewerCanEdit', coalesce(${a}.author_id = $1, false) AND ${a}.repost_of_id IS NULL AND ${a}.deleted_at IS NULL,
    'viewerHasLiked', EXISTS (SELECT 1 FROM likes l WHERE l.user_id = $1 AND l.post_id = ${a}.id),
    'viewerHasReposted', EXISTS (SELECT 1 FROM posts rp WHERE rp.repost_of_id = ${a}.id AND rp.author_id = $1))`;
};
/** Pothos' cursor of a row by its id, as Chirp writes it. */
const cursor = (id: string) => `encode(convert_to('GPC:N:' || ${id}, 'UTF8'), 'base64')`;

/** One statement per scenario; it yields one row whose one column is the text of the response's `data` (of the whole body for REST routes). */
interface Route {
  sql: string;
  params(viewer: number | null, input: Record<string, unknown>): unknown[];
}

/** The page size a REST list takes from `?first=`: 20 when absent, as Chirp's routes. */
const restFirst = (input: Record<string, unknown>) => (input.first === undefined ? 20 : Number(input.first));

/** GET routes under /api, answered with the body alone as Chirp's REST routes are; their input is the query string. */
const restRoutes: Record<string, Route> = {
  "/api/timeline/home": {
    // The home timeline's page (as the timeline route), one row more for hasNextPage.
    sql: `WITH v AS (SELECT array(SELECT blocked_id FROM blocks WHERE blocker_id = $1 UNION SELECT blocker_id FROM blocks WHERE blocked_id = $1) AS hidden,
                      EXISTS (SELECT 1 FROM users WHERE id = $1 AND role = 'ADMIN') AS admin),
        silenced AS (SELECT muted_id AS id FROM mutes WHERE muter_id = $1 UNION SELECT blocked_id FROM blocks WHERE blocker_id = $1
                     UNION SELECT blocker_id FROM blocks WHERE blocked_id = $1),
        page AS (SELECT *, row_number() OVER (ORDER BY id DESC) AS n FROM (
          SELECT * FROM posts WHERE deleted_at IS NULL
            AND (author_id = $1 OR author_id IN (SELECT followee_id FROM follows WHERE follower_id = $1))
            AND author_id NOT IN (SELECT id FROM silenced)
            AND NOT EXISTS (SELECT 1 FROM posts o WHERE o.id = posts.repost_of_id AND o.author_id IN (SELECT id FROM silenced))
          ORDER BY id DESC LIMIT $2::int + 1) top),
        -- The page's posts and those they link to; then each of their users (authors, mentions) and linked posts written once.
        links AS (SELECT unnest(ARRAY[reply_to_id, repost_of_id, root_id]) AS id FROM page WHERE n <= $2::int),
        every AS (SELECT id, author_id FROM page WHERE n <= $2::int UNION SELECT id, author_id FROM posts WHERE id IN (SELECT id FROM links)),
        people AS (SELECT u.id, ${restUser("u")} AS written FROM users u
                   WHERE u.id IN (SELECT author_id FROM every UNION SELECT user_id FROM post_entities WHERE post_id IN (SELECT id FROM every))),
        linked AS (SELECT l.id, ${restPost("l")} AS post FROM v, posts l WHERE l.id IN (SELECT id FROM links))
      SELECT json_build_object(
        'edges', coalesce(json_agg(json_build_object('cursor', ${cursor("p.id")},
          'node', ${restPost("p", (column) => `(SELECT post FROM linked WHERE linked.id = p.${column})`)}) ORDER BY p.id DESC) FILTER (WHERE p.n <= $2::int), '[]'::json),
        'pageInfo', json_build_object('endCursor', ${cursor("min(p.id) FILTER (WHERE p.n <= $2::int)")}, 'hasNextPage', count(*) > $2::int,
          'hasPreviousPage', false, 'startCursor', ${cursor("max(p.id)")}))::text
      FROM page p CROSS JOIN v`,
    params: (viewer, input) => [viewer, restFirst(input)],
  },
};

const routes: Record<string, Route> = {
  timeline: {
    // Less the posts by or reposting anyone the viewer muted or blocked or who blocked the viewer.
    sql: `WITH silenced AS (SELECT muted_id AS id FROM mutes WHERE muter_id = $1 UNION SELECT blocked_id FROM blocks WHERE blocker_id = $1
                            UNION SELECT blocker_id FROM blocks WHERE blocked_id = $1)
      SELECT json_build_object('homeTimeline', ${edges(`json_agg(json_build_object('node', ${post("p", `, 'author', ${author("u")}`)}) ORDER BY p.id DESC)`)})::text
      FROM (SELECT * FROM posts WHERE deleted_at IS NULL
              AND (author_id = $1 OR author_id IN (SELECT followee_id FROM follows WHERE follower_id = $1))
              AND author_id NOT IN (SELECT id FROM silenced)
              AND NOT EXISTS (SELECT 1 FROM posts o WHERE o.id = posts.repost_of_id AND o.author_id IN (SELECT id FROM silenced))
            ORDER BY id DESC LIMIT 20) p
      JOIN users u ON u.id = p.author_id`,
    params: (viewer) => [viewer],
  },
  profile: {
    // The user first, then their posts by author id: the (author_id, id DESC) index reads just the page.
    sql: `SELECT json_build_object(
        'user', CASE WHEN u.id IS NULL THEN NULL ELSE json_build_object('id', ${gid("User", "u.id")}, 'handle', u.handle,
                  'displayName', u.display_name, 'bio', u.bio, 'avatarUrl', ${avatarUrl("u")}, 'followerCount', u.follower_count,
                  'followingCount', u.following_count, 'postCount', u.post_count,
                  'viewerFollows', EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $1 AND f.followee_id = u.id)) END,
        'userTimeline', ${edges(`(SELECT json_agg(json_build_object('node', ${post("p")}) ORDER BY p.id DESC)
          FROM (SELECT * FROM posts WHERE author_id = u.id AND deleted_at IS NULL AND reply_to_id IS NULL
                ORDER BY id DESC LIMIT 10) p)`)})::text
      FROM (SELECT 1) one LEFT JOIN users u ON u.handle_key = lower($2)`,
    params: (viewer, input) => [viewer, String(input.handle)],
  },
  thread: {
    sql: `SELECT json_build_object('post', (
        SELECT ${post("p", `, 'author', ${author("u")}, 'replies', ${replies("r1", "p", `, 'replies', ${replies("r2", "r1")}`)}`)}
        FROM posts p JOIN users u ON u.id = p.author_id WHERE p.id = $2))::text`,
    params: (viewer, input) => [viewer, Number(input.id)],
  },
  like: {
    sql: `WITH liked AS (
        INSERT INTO likes (user_id, post_id) SELECT $1, id FROM posts WHERE id = $2 AND deleted_at IS NULL
        ON CONFLICT (user_id, post_id) DO NOTHING RETURNING post_id),
      counted AS (UPDATE posts SET like_count = like_count + 1 WHERE id IN (SELECT post_id FROM liked) RETURNING like_count)
      SELECT json_build_object('likePost', json_build_object('__typename', 'Post', 'id', ${gid("Post", "p.id")},
        'likeCount', coalesce((SELECT like_count FROM counted), p.like_count), 'viewerHasLiked', true))::text
      FROM posts p WHERE p.id = $2`,
    params: (viewer, input) => [viewer, Number(input.id)],
  },
  unlike: {
    sql: `WITH unliked AS (DELETE FROM likes WHERE user_id = $1 AND post_id = $2 RETURNING post_id),
      counted AS (UPDATE posts SET like_count = like_count - 1 WHERE id IN (SELECT post_id FROM unliked) RETURNING like_count)
      SELECT json_build_object('unlikePost', json_build_object('__typename', 'Post', 'id', ${gid("Post", "p.id")},
        'likeCount', coalesce((SELECT like_count FROM counted), p.like_count), 'viewerHasLiked', false))::text
      FROM posts p WHERE p.id = $2`,
    params: (viewer, input) => [viewer, Number(input.id)],
  },
  notifications: {
    // The viewer's latest 20 entries with their post and latest 3 actors, less actors a block hides.
    sql: `WITH hidden AS (SELECT blocked_id AS id FROM blocks WHERE blocker_id = $1 UNION SELECT blocker_id FROM blocks WHERE blocked_id = $1)
      SELECT json_build_object('viewer', json_build_object(
        'unreadNotificationCount', coalesce((SELECT unread_count FROM notification_inboxes WHERE user_id = $1), 0),
        'notifications', ${edges(`(SELECT json_agg(json_build_object('node', json_build_object('id', ${gid("Notification", "n.id")}, 'kind', n.kind,
            'actorCount', n.actor_count, 'isRead', n.first_unread_seq IS NULL, 'createdAt', ${iso("n.latest_at")},
            'post', (SELECT json_build_object('id', ${gid("Post", "p.id")}, 'body', p.body) FROM posts p WHERE p.id = n.post_id),
            'actors', ${edges(`(SELECT json_agg(json_build_object('node', ${author("u")}) ORDER BY a.id DESC)
              FROM (SELECT * FROM notification_actors WHERE notification_id = n.id AND actor_id NOT IN (SELECT id FROM hidden) ORDER BY id DESC LIMIT 3) a
              JOIN users u ON u.id = a.actor_id)`)})) ORDER BY n.seq DESC)
          FROM (SELECT * FROM notifications WHERE recipient_id = $1 ORDER BY seq DESC LIMIT 20) n)`)}))::text`,
    params: (viewer) => [viewer],
  },
  messages: {
    // The latest 20 of a conversation the viewer is an active member of, oldest first, less senders a block hides.
    sql: `WITH hidden AS (SELECT blocked_id AS id FROM blocks WHERE blocker_id = $1 UNION SELECT blocker_id FROM blocks WHERE blocked_id = $1)
      SELECT json_build_object('node', CASE WHEN EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = $2 AND user_id = $1 AND left_at IS NULL)
        THEN json_build_object('messages', ${edges(`(SELECT json_agg(json_build_object('node', json_build_object('id', ${gid("Message", "m.id")}, 'body', m.body,
            'createdAt', ${iso("m.created_at")}, 'sender', ${author("u")})) ORDER BY m.id)
          FROM (SELECT * FROM messages WHERE conversation_id = $2 AND sender_id NOT IN (SELECT id FROM hidden) ORDER BY id DESC LIMIT 20) m
          JOIN users u ON u.id = m.sender_id)`)}) END)::text`,
    params: (viewer, input) => [viewer, Number(input.id)],
  },
  search: {
    // Ranked as Chirp ranks (ts_rank_cd, then newest), the page cut before ts_headline, whose marks become runs.
    sql: `WITH q AS MATERIALIZED (SELECT websearch_to_tsquery('english', $2) AS q),
      hidden AS (SELECT blocked_id AS id FROM blocks WHERE blocker_id = $1 UNION SELECT blocker_id FROM blocks WHERE blocked_id = $1),
      hits AS (SELECT p.*, ts_rank_cd(p.search_vector, q.q)::float8 AS rank FROM q JOIN posts p ON p.search_vector @@ q.q
               WHERE p.author_id NOT IN (SELECT id FROM hidden) ORDER BY rank DESC, p.id DESC LIMIT 20)
      SELECT json_build_object('searchPosts', ${edges(`json_agg(json_build_object(
          'highlight', (SELECT json_agg(json_build_object('text', run, 'matched', n % 2 = 0) ORDER BY n)
                        FROM unnest(regexp_split_to_array(ts_headline('english', h.body, q.q, 'HighlightAll=true, StartSel=' || chr(2) || ', StopSel=' || chr(3)), '[' || chr(2) || chr(3) || ']'))
                             WITH ORDINALITY AS r(run, n) WHERE run <> ''),
          'node', ${post("h", `, 'author', ${author("u")}`)}) ORDER BY h.rank DESC, h.id DESC)`)})::text
      FROM hits h JOIN users u ON u.id = h.author_id, q`,
    params: (viewer, input) => [viewer, String(input.query)],
  },
};
const WRITES = new Set(["like", "unlike"]);

function send(res: ServerResponse, status: number, body: string) {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** Runs a route's statement and answers its one value: `data` for the scenario routes, the whole body for REST's. */
function answer(res: ServerResponse, name: string, route: Route, values: unknown[], rest: boolean) {
  // A named statement: prepared once per connection, then only bound and executed.
  pool.query<[string | null]>({ name, text: route.sql, values, rowMode: "array" }).then(
    ({ rows }) => send(res, 200, rest ? (rows[0]?.[0] ?? "null") : `{"data":${rows[0]?.[0] ?? "null"}}`),
    (error: Error) => {
      console.error(error);
      send(res, 500, '{"errors":[{"message":"Unexpected error."}]}');
    },
  );
}

const server = createServer((req, res) => {
  const header = req.headers["x-viewer-id"];
  const viewer = typeof header === "string" && /^\d+$/.test(header) ? Number(header) : null;
  if (req.method === "GET") {
    const url = new URL(req.url ?? "/", "http://ceiling");
    const route = restRoutes[url.pathname];
    if (!route) return send(res, 404, '{"code":"NOT_FOUND","message":"No such route."}');
    const input = Object.fromEntries(url.searchParams);
    const first = restFirst(input);
    if (!Number.isInteger(first) || first < 1 || first > 100) return send(res, 400, '{"code":"BAD_USER_INPUT","message":"`first` must be between 1 and 100."}');
    return answer(res, url.pathname, route, route.params(viewer, input), true);
  }
  const name = (req.url ?? "/").slice(1);
  const route = req.method === "POST" ? routes[name] : undefined;
  if (!route) return send(res, 404, '{"errors":[{"message":"Not found"}]}');
  if (viewer === null && WRITES.has(name)) return send(res, 401, '{"errors":[{"message":"You must be logged in to do this."}]}');
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
    } catch {
      return send(res, 400, '{"errors":[{"message":"The body must be JSON"}]}');
    }
    answer(res, name, route, route.params(viewer, input), false);
  });
});

server.listen(Number(process.env.PORT ?? 5679), process.env.HOST ?? "127.0.0.1", () => console.log(`ceiling ready on port ${process.env.PORT}`));

function shutdown() {
  server.close();
  void pool.end().then(() => process.exit(0));
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
