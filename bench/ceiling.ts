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

/** One statement per scenario; it yields one row whose one column is the text of the response's `data`. */
interface Route {
  sql: string;
  params(viewer: number | null, input: Record<string, unknown>): unknown[];
}

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

const server = createServer((req, res) => {
  const name = (req.url ?? "/").slice(1);
  const route = req.method === "POST" ? routes[name] : undefined;
  if (!route) return send(res, 404, '{"errors":[{"message":"Not found"}]}');
  const header = req.headers["x-viewer-id"];
  const viewer = typeof header === "string" && /^\d+$/.test(header) ? Number(header) : null;
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
    // A named statement: prepared once per connection, then only bound and executed.
    pool.query<[string | null]>({ name, text: route.sql, values: route.params(viewer, input), rowMode: "array" }).then(
      ({ rows }) => send(res, 200, `{"data":${rows[0]?.[0] ?? "null"}}`),
      (error: Error) => {
        console.error(error);
        send(res, 500, '{"errors":[{"message":"Unexpected error."}]}');
      },
    );
  });
});

server.listen(Number(process.env.PORT ?? 5679), process.env.HOST ?? "127.0.0.1", () => console.log(`ceiling ready on port ${process.env.PORT}`));

function shutdown() {
  server.close();
  void pool.end().then(() => process.exit(0));
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
