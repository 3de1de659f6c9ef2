import { lexicographicSortSchema } from "graphql";
import { builder } from "./builder.js";
import { resolveNodeIdsSynchronously } from "./graphql/node-ids.js";
import "./graphql/errors.schema.js";
import "./modules/users/users.schema.js";
import "./modules/auth/auth.schema.js";
import "./modules/posts/posts.schema.js";
import "./modules/social/social.schema.js";
import "./modules/timeline/timeline.schema.js";
import "./modules/blocks/blocks.schema.js";
import "./modules/search/search.schema.js";
import "./modules/notifications/notifications.schema.js";
import "./modules/entities/entities.schema.js";
import "./modules/messages/messages.schema.js";
import "./modules/account/account.schema.js";
import "./modules/media/media.schema.js";
import "./modules/live/live.schema.js";

export const schema = resolveNodeIdsSynchronously(lexicographicSortSchema(builder.toSchema()));
