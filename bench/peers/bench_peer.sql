-- What PostGraphile needs beyond Chirp's tables: the viewer-dependent fields and the like mutations,
-- in a schema of their own so that Chirp's migrations never see them. The runner recreates it on
-- every run. The viewer is the transaction setting jwt.claims.viewer_id, set by PostGraphile's
-- pgSettings from the request (absent for anonymous requests).
DROP SCHEMA IF EXISTS bench_peer CASCADE;
CREATE SCHEMA bench_peer;

-- Query.homeTimeline: posts and reposts of the viewer and the people they follow, newest first, less
-- those by or reposting someone the viewer muted or blocked or who blocked the viewer (as Chirp).
-- One SELECT without a CTE, so that PostgreSQL inlines it and PostGraphile's LIMIT reaches the scan.
CREATE FUNCTION bench_peer.silenced_ids(viewer int) RETURNS int[]
LANGUAGE sql STABLE AS $$
  SELECT array(SELECT muted_id FROM public.mutes WHERE muter_id = viewer
               UNION SELECT blocked_id FROM public.blocks WHERE blocker_id = viewer
               UNION SELECT blocker_id FROM public.blocks WHERE blocked_id = viewer)
$$;

CREATE FUNCTION bench_peer.home_timeline() RETURNS SETOF public.posts
LANGUAGE sql STABLE AS $$
  SELECT p.* FROM public.posts p
  WHERE p.deleted_at IS NULL
    AND (p.author_id = nullif(current_setting('jwt.claims.viewer_id', true), '')::int
      OR p.author_id IN (SELECT f.followee_id FROM public.follows f
                         WHERE f.follower_id = nullif(current_setting('jwt.claims.viewer_id', true), '')::int))
    AND p.author_id <> ALL (bench_peer.silenced_ids(nullif(current_setting('jwt.claims.viewer_id', true), '')::int))
    AND NOT EXISTS (SELECT 1 FROM public.posts o WHERE o.id = p.repost_of_id
                    AND o.author_id = ANY (bench_peer.silenced_ids(nullif(current_setting('jwt.claims.viewer_id', true), '')::int)))
  ORDER BY p.id DESC
$$;

-- The users a block separates from the viewer, either way (mutes hide nothing outside the home timeline).
CREATE FUNCTION bench_peer.hidden_ids(viewer int) RETURNS int[]
LANGUAGE sql STABLE AS $$
  SELECT array(SELECT blocked_id FROM public.blocks WHERE blocker_id = viewer
               UNION SELECT blocker_id FROM public.blocks WHERE blocked_id = viewer)
$$;

-- Conversation.messages as the viewer reads them: only an active member, and no message of someone a
-- block separates them from; newest first (PostGraphile pages a function only forwards: `first: 20` is
-- the latest page, which the benchmark's normaliser puts oldest first as Chirp answers it).
CREATE FUNCTION bench_peer.conversation_messages(conversation_id int) RETURNS SETOF public.messages
LANGUAGE sql STABLE AS $$
  SELECT m.* FROM public.messages m
  WHERE m.conversation_id = conversation_messages.conversation_id
    AND EXISTS (SELECT 1 FROM public.conversation_members cm
                WHERE cm.conversation_id = conversation_messages.conversation_id AND cm.left_at IS NULL
                  AND cm.user_id = nullif(current_setting('jwt.claims.viewer_id', true), '')::int)
    AND m.sender_id <> ALL (bench_peer.hidden_ids(nullif(current_setting('jwt.claims.viewer_id', true), '')::int))
  ORDER BY m.id DESC
$$;

-- Post.viewerHasLiked (a computed column).
CREATE FUNCTION bench_peer.posts_viewer_has_liked(post public.posts) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM public.likes l
                 WHERE l.post_id = post.id AND l.user_id = nullif(current_setting('jwt.claims.viewer_id', true), '')::int)
$$;
COMMENT ON FUNCTION bench_peer.posts_viewer_has_liked(public.posts) IS E'@notNull';

-- User.viewerFollows (a computed column).
CREATE FUNCTION bench_peer.users_viewer_follows(u public.users) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM public.follows f
                 WHERE f.followee_id = u.id AND f.follower_id = nullif(current_setting('jwt.claims.viewer_id', true), '')::int)
$$;
COMMENT ON FUNCTION bench_peer.users_viewer_follows(public.users) IS E'@notNull';

-- User.avatarUrl (a computed column): the small size of the avatar upload, as Chirp writes its URL.
CREATE FUNCTION bench_peer.users_avatar_url(u public.users) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT '/media/' || m.id || '/' || m.key || '-small.' || CASE m.format WHEN 'jpeg' THEN 'jpg' ELSE m.format END
  FROM public.media m WHERE m.id = u.avatar_media_id
$$;

-- What the REST home timeline (the rest scenario) shows beyond the fields above: the viewer's relation
-- to each author and post. Deleted, suspended and the content type are read from their columns.
CREATE FUNCTION bench_peer.users_follows_viewer(u public.users) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM public.follows f
                 WHERE f.follower_id = u.id AND f.followee_id = nullif(current_setting('jwt.claims.viewer_id', true), '')::int)
$$;
COMMENT ON FUNCTION bench_peer.users_follows_viewer(public.users) IS E'@notNull';

CREATE FUNCTION bench_peer.users_blocks_viewer(u public.users) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM public.blocks b
                 WHERE b.blocker_id = u.id AND b.blocked_id = nullif(current_setting('jwt.claims.viewer_id', true), '')::int)
$$;
COMMENT ON FUNCTION bench_peer.users_blocks_viewer(public.users) IS E'@notNull';

CREATE FUNCTION bench_peer.users_viewer_has_blocked(u public.users) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM public.blocks b
                 WHERE b.blocked_id = u.id AND b.blocker_id = nullif(current_setting('jwt.claims.viewer_id', true), '')::int)
$$;
COMMENT ON FUNCTION bench_peer.users_viewer_has_blocked(public.users) IS E'@notNull';

CREATE FUNCTION bench_peer.users_viewer_has_muted(u public.users) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM public.mutes m
                 WHERE m.muted_id = u.id AND m.muter_id = nullif(current_setting('jwt.claims.viewer_id', true), '')::int)
$$;
COMMENT ON FUNCTION bench_peer.users_viewer_has_muted(public.users) IS E'@notNull';

-- Post.isUnavailable: a block stands between the author and the viewer, either way.
CREATE FUNCTION bench_peer.posts_is_unavailable(post public.posts) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM public.blocks b
                 WHERE (b.blocker_id = post.author_id AND b.blocked_id = nullif(current_setting('jwt.claims.viewer_id', true), '')::int)
                    OR (b.blocked_id = post.author_id AND b.blocker_id = nullif(current_setting('jwt.claims.viewer_id', true), '')::int))
$$;
COMMENT ON FUNCTION bench_peer.posts_is_unavailable(public.posts) IS E'@notNull';

CREATE FUNCTION bench_peer.posts_viewer_has_reposted(post public.posts) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM public.posts r
                 WHERE r.repost_of_id = post.id AND r.author_id = nullif(current_setting('jwt.claims.viewer_id', true), '')::int)
$$;
COMMENT ON FUNCTION bench_peer.posts_viewer_has_reposted(public.posts) IS E'@notNull';

-- Post.viewerCanEdit / viewerCanDelete: the author's own post (an admin deletes anyone's), not deleted; no repost is edited.
CREATE FUNCTION bench_peer.posts_viewer_can_edit(post public.posts) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT coalesce(post.author_id = nullif(current_setting('jwt.claims.viewer_id', true), '')::int, false)
     AND post.repost_of_id IS NULL AND post.deleted_at IS NULL
$$;
COMMENT ON FUNCTION bench_peer.posts_viewer_can_edit(public.posts) IS E'@notNull';

CREATE FUNCTION bench_peer.posts_viewer_can_delete(post public.posts) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT post.deleted_at IS NULL AND EXISTS (
    SELECT 1 FROM public.users v WHERE v.id = nullif(current_setting('jwt.claims.viewer_id', true), '')::int
      AND (v.id = post.author_id OR v.role = 'ADMIN'))
$$;
COMMENT ON FUNCTION bench_peer.posts_viewer_can_delete(public.posts) IS E'@notNull';

-- Media.url: the LARGE size, as Chirp writes its URL.
CREATE FUNCTION bench_peer.media_url(m public.media) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT '/media/' || m.id || '/' || m.key || '-large.' || CASE m.format WHEN 'jpeg' THEN 'jpg' ELSE m.format END
$$;
COMMENT ON FUNCTION bench_peer.media_url(public.media) IS E'@notNull';

-- Mutation.likePost / unlikePost: idempotent, with the counter changed in the same statement.
CREATE FUNCTION bench_peer.like_post(post_id int) RETURNS public.posts
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  viewer int := nullif(current_setting('jwt.claims.viewer_id', true), '')::int;
  result public.posts;
BEGIN
  IF viewer IS NULL THEN
    RAISE EXCEPTION 'You must be logged in to do this.' USING ERRCODE = '28000';
  END IF;
  INSERT INTO public.likes (user_id, post_id)
    SELECT viewer, p.id FROM public.posts p WHERE p.id = like_post.post_id AND p.deleted_at IS NULL
    ON CONFLICT (user_id, post_id) DO NOTHING;
  IF FOUND THEN
    UPDATE public.posts SET like_count = like_count + 1 WHERE id = like_post.post_id RETURNING * INTO result;
  ELSE
    SELECT * INTO result FROM public.posts WHERE id = like_post.post_id;
  END IF;
  RETURN result;
END
$$;

CREATE FUNCTION bench_peer.unlike_post(post_id int) RETURNS public.posts
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  viewer int := nullif(current_setting('jwt.claims.viewer_id', true), '')::int;
  result public.posts;
BEGIN
  IF viewer IS NULL THEN
    RAISE EXCEPTION 'You must be logged in to do this.' USING ERRCODE = '28000';
  END IF;
  DELETE FROM public.likes WHERE user_id = viewer AND post_id = unlike_post.post_id;
  IF FOUND THEN
    UPDATE public.posts SET like_count = like_count - 1 WHERE id = unlike_post.post_id RETURNING * INTO result;
  ELSE
    SELECT * INTO result FROM public.posts WHERE id = unlike_post.post_id;
  END IF;
  RETURN result;
END
$$;
