/**
 * The REST API under /api: every route, in one table. A route names the GraphQL field it runs:
 * a root field (`user`), or a list nested one level under one (`user.followers`), read through a
 * type condition where the root field is an interface (`node` as a Conversation). The key is the
 * route's operationId in the OpenAPI document.
 *
 * Arguments come from the path (`:name`), then the query string, then the JSON body, by name;
 * a mutation's `input` is taken apart into its fields, so a body is `{"body": "Hello"}`, not
 * `{"input": {...}}`. To add a route: a line here; the README's table and the document follow.
 */
export interface RestRoute {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  /** `field` or `field.nested`, of Query or Mutation. */
  field: string;
  /** The type the root field's result must be (for `node`); another one answers 404. */
  on?: string;
  /** 201 for a route that creates something. */
  status?: 200 | 201;
  /** A list's default page when the client names neither `first` nor `last`: 20 from the start, or the last 20. */
  page?: "first" | "last";
  /** What a null result means: 404 (the default), or 401 for the viewer's own resources when anonymous. */
  whenNull?: "NOT_FOUND" | "UNAUTHENTICATED";
  /** The result is the viewer: their private fields (email, unread counts) are part of it. */
  viewer?: boolean;
  tag: string;
}

export const REST_ROUTES = {
  // The viewer
  getMe: { method: "GET", path: "/me", field: "viewer", whenNull: "UNAUTHENTICATED", viewer: true, tag: "Me" },
  updateProfile: { method: "PATCH", path: "/me", field: "updateProfile", viewer: true, tag: "Me" },
  listNotifications: { method: "GET", path: "/me/notifications", field: "viewer.notifications", page: "first", whenNull: "UNAUTHENTICATED", tag: "Me" },
  markNotificationsRead: { method: "PUT", path: "/me/notifications/read", field: "markNotificationsRead", viewer: true, tag: "Me" },
  listSessions: { method: "GET", path: "/me/sessions", field: "viewer.sessions", page: "first", whenNull: "UNAUTHENTICATED", tag: "Me" },
  listApiTokens: { method: "GET", path: "/me/api-tokens", field: "viewer.apiTokens", page: "first", whenNull: "UNAUTHENTICATED", tag: "Me" },
  createApiToken: { method: "POST", path: "/me/api-tokens", field: "createApiToken", status: 201, tag: "Me" },
  revokeApiToken: { method: "DELETE", path: "/me/api-tokens/:apiTokenId", field: "revokeApiToken", tag: "Me" },
  listBlockedUsers: { method: "GET", path: "/me/blocked-users", field: "viewer.blockedUsers", page: "first", whenNull: "UNAUTHENTICATED", tag: "Me" },
  listMutedUsers: { method: "GET", path: "/me/muted-users", field: "viewer.mutedUsers", page: "first", whenNull: "UNAUTHENTICATED", tag: "Me" },
  changeEmail: { method: "PUT", path: "/me/email", field: "changeEmail", tag: "Me" },
  requestEmailVerification: { method: "POST", path: "/me/email/verification", field: "requestEmailVerification", tag: "Me" },

  // Sessions and accounts
  logIn: { method: "POST", path: "/sessions", field: "logIn", status: 201, tag: "Sessions" },
  refreshSession: { method: "POST", path: "/sessions/refresh", field: "refreshSession", tag: "Sessions" },
  logOut: { method: "DELETE", path: "/sessions/current", field: "logOut", tag: "Sessions" },
  revokeSession: { method: "DELETE", path: "/sessions/:sessionId", field: "revokeSession", tag: "Sessions" },
  logOutEverywhere: { method: "DELETE", path: "/sessions", field: "logOutEverywhere", tag: "Sessions" },
  signUp: { method: "POST", path: "/users", field: "signUp", status: 201, tag: "Sessions" },
  verifyEmail: { method: "POST", path: "/email-verifications", field: "verifyEmail", tag: "Sessions" },
  requestPasswordReset: { method: "POST", path: "/password-resets", field: "requestPasswordReset", tag: "Sessions" },
  resetPassword: { method: "POST", path: "/password-resets/confirm", field: "resetPassword", tag: "Sessions" },

  // Users
  getUser: { method: "GET", path: "/users/:handle", field: "user", tag: "Users" },
  listUserPosts: { method: "GET", path: "/users/:handle/posts", field: "userTimeline", page: "first", tag: "Users" },
  listFollowers: { method: "GET", path: "/users/:handle/followers", field: "user.followers", page: "first", tag: "Users" },
  listFollowing: { method: "GET", path: "/users/:handle/following", field: "user.following", page: "first", tag: "Users" },
  follow: { method: "PUT", path: "/users/:userId/follow", field: "follow", tag: "Users" },
  unfollow: { method: "DELETE", path: "/users/:userId/follow", field: "unfollow", tag: "Users" },
  block: { method: "PUT", path: "/users/:userId/block", field: "block", tag: "Users" },
  unblock: { method: "DELETE", path: "/users/:userId/block", field: "unblock", tag: "Users" },
  mute: { method: "PUT", path: "/users/:userId/mute", field: "mute", tag: "Users" },
  unmute: { method: "DELETE", path: "/users/:userId/mute", field: "unmute", tag: "Users" },
  setUserSuspended: { method: "PUT", path: "/users/:userId/suspended", field: "setUserSuspended", tag: "Users" },

  // Posts
  createPost: { method: "POST", path: "/posts", field: "createPost", status: 201, tag: "Posts" },
  getPost: { method: "GET", path: "/posts/:id", field: "post", tag: "Posts" },
  editPost: { method: "PATCH", path: "/posts/:postId", field: "editPost", tag: "Posts" },
  deletePost: { method: "DELETE", path: "/posts/:postId", field: "deletePost", tag: "Posts" },
  listReplies: { method: "GET", path: "/posts/:id/replies", field: "post.replies", page: "first", tag: "Posts" },
  listLikers: { method: "GET", path: "/posts/:id/likers", field: "post.likers", page: "first", tag: "Posts" },
  likePost: { method: "PUT", path: "/posts/:postId/like", field: "likePost", tag: "Posts" },
  unlikePost: { method: "DELETE", path: "/posts/:postId/like", field: "unlikePost", tag: "Posts" },
  repost: { method: "PUT", path: "/posts/:postId/repost", field: "repost", tag: "Posts" },
  undoRepost: { method: "DELETE", path: "/posts/:postId/repost", field: "undoRepost", tag: "Posts" },
  updateMedia: { method: "PATCH", path: "/media/:mediaId", field: "updateMedia", tag: "Posts" },

  // Timelines, tags and search
  getHomeTimeline: { method: "GET", path: "/timeline/home", field: "homeTimeline", page: "first", tag: "Timelines" },
  getHashtag: { method: "GET", path: "/hashtags/:name", field: "hashtag", tag: "Timelines" },
  listHashtagPosts: { method: "GET", path: "/hashtags/:name/posts", field: "hashtag.posts", page: "first", tag: "Timelines" },
  listTrendingHashtags: { method: "GET", path: "/trending/hashtags", field: "trendingHashtags", tag: "Timelines" },
  searchPosts: { method: "GET", path: "/search/posts", field: "searchPosts", tag: "Timelines" },
  searchUsers: { method: "GET", path: "/search/users", field: "searchUsers", tag: "Timelines" },

  // Messages
  listConversations: { method: "GET", path: "/conversations", field: "viewer.conversations", page: "first", whenNull: "UNAUTHENTICATED", tag: "Messages" },
  sendDirectMessage: { method: "POST", path: "/messages", field: "startConversation", status: 201, tag: "Messages" },
  getConversation: { method: "GET", path: "/conversations/:id", field: "node", on: "Conversation", tag: "Messages" },
  leaveConversation: { method: "DELETE", path: "/conversations/:conversationId", field: "leaveConversation", viewer: true, tag: "Messages" },
  listMessages: { method: "GET", path: "/conversations/:id/messages", field: "node.messages", on: "Conversation", page: "last", tag: "Messages" },
  sendMessage: { method: "POST", path: "/conversations/:conversationId/messages", field: "sendMessage", status: 201, tag: "Messages" },
  listConversationMembers: { method: "GET", path: "/conversations/:id/members", field: "node.members", on: "Conversation", page: "first", tag: "Messages" },
  markConversationRead: { method: "PUT", path: "/conversations/:conversationId/read", field: "markConversationRead", tag: "Messages" },
} as const satisfies Record<string, RestRoute>;

/**
 * Root fields with no route, and why; a test holds every root field to a route or a line here.
 */
export const NOT_ROUTED: Record<string, string> = {
  node: "Global IDs are GraphQL's: each resource has its own route.",
  nodes: "Global IDs are GraphQL's: each resource has its own route.",
  uploadMedia: "A multipart request: upload through POST /graphql, then pass the upload's id to POST /api/posts.",
};
