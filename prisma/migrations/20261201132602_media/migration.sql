-- Avatars become uploads (users.avatar_media_id). The old avatar_url held any http(s) address a user
-- typed, hot-linked from servers Chirp does not control: it is dropped rather than served as if uploaded.
-- AlterTable
ALTER TABLE "users" DROP COLUMN "avatar_url",
ADD COLUMN     "avatar_media_id" INTEGER;

-- CreateTable
CREATE TABLE "media" (
    "id" SERIAL NOT NULL,
    "uploader_id" INTEGER NOT NULL,
    "key" CHAR(64) NOT NULL,
    "format" VARCHAR(8) NOT NULL,
    "width" INTEGER NOT NULL,
    "height" INTEGER NOT NULL,
    "color" CHAR(7) NOT NULL,
    "alt_text" VARCHAR(1000) NOT NULL DEFAULT '',
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "attached_at" TIMESTAMP(3),
    "post_id" INTEGER,
    "position" INTEGER,
    "removed_at" TIMESTAMP(3),

    CONSTRAINT "media_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "media_key_idx" ON "media"("key");

-- CreateIndex
CREATE INDEX "media_attached_at_created_at_idx" ON "media"("attached_at", "created_at");

-- CreateIndex
CREATE INDEX "media_removed_at_idx" ON "media"("removed_at");

-- CreateIndex
CREATE UNIQUE INDEX "media_post_id_position_key" ON "media"("post_id", "position");

-- CreateIndex
CREATE UNIQUE INDEX "users_avatar_media_id_key" ON "users"("avatar_media_id");

-- AddForeignKey
ALTER TABLE "users" ADD CONSTRAINT "users_avatar_media_id_fkey" FOREIGN KEY ("avatar_media_id") REFERENCES "media"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "media" ADD CONSTRAINT "media_uploader_id_fkey" FOREIGN KEY ("uploader_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "media" ADD CONSTRAINT "media_post_id_fkey" FOREIGN KEY ("post_id") REFERENCES "posts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

