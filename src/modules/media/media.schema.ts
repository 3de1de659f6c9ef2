import { GraphQLError } from "graphql";
import { builder } from "../../builder.js";
import { NotFoundError } from "../../errors.js";
import { nodeId } from "../../graphql/ids.js";
import { hides, hiddenUserIds } from "../blocks/visibility.js";
import { mediaUrl } from "./media.http.js";
import { type Format, SIZES, type SizeName } from "./media.images.js";
import { updateMedia, uploadMedia } from "./media.service.js";

const MediaId = nodeId("Media");

builder.scalarType("File", {
  description: "A file of a multipart request (the GraphQL multipart request spec); input only.",
  serialize: () => {
    throw new Error("File is an input type only");
  },
  parseValue: (value) => {
    // @whatwg-node's File, which Yoga's multipart parsing makes, is not Node's global class.
    const file = value as File | null;
    if (file && typeof file === "object" && typeof file.arrayBuffer === "function" && typeof file.size === "number") return file;
    throw new GraphQLError("File must be a file part of a multipart request, named in its map");
  },
});

export const MediaSize = builder.enumType("MediaSize", {
  values: Object.fromEntries(Object.entries(SIZES).map(([name, px]) => [name.toUpperCase(), { value: name as SizeName, description: `Fits inside ${px}×${px} pixels (never enlarged).` }])),
});

export const Media = builder.prismaNode("Media", {
  id: MediaId.option,
  description: "An uploaded image, re-encoded by Chirp (oriented, metadata stripped) in each MediaSize.",
  nullable: true,
  // Another user's upload is reachable once attached, and not across a block; the uploader's always.
  findUnique: (id, ctx) => ({
    id: MediaId.key(id),
    removedAt: null,
    OR: [{ uploaderId: ctx.viewer?.id ?? -1 }, { attachedAt: { not: null }, uploaderId: { notIn: hiddenUserIds(ctx.viewer) } }],
  }),
  fields: (t) => ({
    url: t.string({
      description: "A stable path on Chirp's origin (/media/…): immutable, cached for a year.",
      args: { size: t.arg({ type: MediaSize, defaultValue: "large" }) },
      select: { id: true, key: true, format: true },
      resolve: (media, { size }) => mediaUrl(media.id, media.key, size, media.format as Format),
    }),
    width: t.exposeInt("width", { description: "Of the LARGE size; SMALL keeps the proportions." }),
    height: t.exposeInt("height"),
    altText: t.exposeString("altText", { description: "For screen readers; empty when the uploader gave none." }),
    dominantColor: t.exposeString("color", { description: "The image's dominant colour (#rrggbb), a placeholder while it loads." }),
    contentType: t.string({ select: { format: true }, resolve: (media) => `image/${media.format}` }),
  }),
});

builder.prismaObjectField("Post", "media", (t) =>
  t.field({
    type: [Media],
    description: "The post's images, in order; empty for an unavailable or deleted post.",
    select: (_args, _ctx, nestedSelection) => ({ authorId: true, media: nestedSelection({ where: { removedAt: null }, orderBy: { position: "asc" } }) }),
    resolve: (post, _args, ctx) => (hides(ctx.viewer, post.authorId) ? [] : post.media),
  }),
);

builder.prismaObjectField("User", "avatarUrl", (t) =>
  t.string({
    nullable: true,
    args: { size: t.arg({ type: MediaSize, defaultValue: "small" }) },
    description: "The avatar's URL (set by updateProfile's avatarMediaId), or null.",
    select: { avatarMedia: { select: { id: true, key: true, format: true } } },
    resolve: (user, { size }) => (user.avatarMedia ? mediaUrl(user.avatarMedia.id, user.avatarMedia.key, size, user.avatarMedia.format as Format) : null),
  }),
);

const UploadMediaInput = builder.inputType("UploadMediaInput", {
  fields: (t) => ({
    file: t.field({ type: "File", description: "A JPEG, PNG, WebP or GIF image (animations keep at most 100 frames), at most UPLOAD_MAX_BYTES." }),
    altText: t.string({ required: false, description: "At most 1000 characters." }),
  }),
});
const UpdateMediaInput = builder.inputType("UpdateMediaInput", {
  fields: (t) => ({ mediaId: t.globalID({ for: Media }), altText: t.string({ description: "At most 1000 characters; empty removes it." }) }),
});

builder.mutationFields((t) => ({
  uploadMedia: t.prismaField({
    type: "Media",
    description: "Uploads an image (a multipart request) for createPost's mediaIds or updateProfile's avatarMediaId. An upload nothing takes within a day is deleted.",
    authScopes: { writer: true },
    errors: {},
    args: { input: t.arg({ type: UploadMediaInput }) },
    resolve: (query, _root, { input }, ctx) => uploadMedia(ctx.db, ctx.storage, ctx.processImage, ctx.viewer!, input, query),
  }),
  updateMedia: t.prismaField({
    type: "Media",
    description: "The uploader changes an upload's alt text, attached or not.",
    authScopes: { writer: true },
    errors: { types: [NotFoundError] },
    args: { input: t.arg({ type: UpdateMediaInput }) },
    resolve: (query, _root, { input }, ctx) => updateMedia(ctx.db, ctx.viewer!, MediaId.key(input.mediaId), input.altText, query),
  }),
}));

export { MediaId };
