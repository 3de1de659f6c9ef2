-- CreateEnum
CREATE TYPE "EntityKind" AS ENUM ('MENTION', 'HASHTAG', 'LINK');

-- CreateTable
CREATE TABLE "post_entities" (
    "post_id" INTEGER NOT NULL,
    "start_offset" INTEGER NOT NULL,
    "end_offset" INTEGER NOT NULL,
    "kind" "EntityKind" NOT NULL,
    "text" TEXT NOT NULL,
    "user_id" INTEGER,
    "url" TEXT,
    "hashtag_id" INTEGER,

    CONSTRAINT "post_entities_pkey" PRIMARY KEY ("post_id","start_offset")
);

-- CreateTable
CREATE TABLE "hashtags" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "name_key" TEXT NOT NULL,
    "post_count" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "hashtags_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "post_hashtags" (
    "id" BIGINT NOT NULL,
    "post_id" INTEGER NOT NULL,
    "hashtag_id" INTEGER NOT NULL,
    "author_id" INTEGER NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "post_hashtags_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "post_entities_user_id_idx" ON "post_entities"("user_id");

-- CreateIndex
CREATE INDEX "post_entities_hashtag_id_idx" ON "post_entities"("hashtag_id");

-- CreateIndex
CREATE UNIQUE INDEX "hashtags_name_key_key" ON "hashtags"("name_key");

-- CreateIndex
CREATE INDEX "post_hashtags_hashtag_id_id_idx" ON "post_hashtags"("hashtag_id", "id" DESC);

-- CreateIndex
CREATE INDEX "post_hashtags_created_at_hashtag_id_author_id_idx" ON "post_hashtags"("created_at", "hashtag_id", "author_id");

-- CreateIndex
CREATE INDEX "post_hashtags_post_id_idx" ON "post_hashtags"("post_id");

-- AddForeignKey
ALTER TABLE "post_entities" ADD CONSTRAINT "post_entities_post_id_fkey" FOREIGN KEY ("post_id") REFERENCES "posts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "post_entities" ADD CONSTRAINT "post_entities_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "post_entities" ADD CONSTRAINT "post_entities_hashtag_id_fkey" FOREIGN KEY ("hashtag_id") REFERENCES "hashtags"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "post_hashtags" ADD CONSTRAINT "post_hashtags_post_id_fkey" FOREIGN KEY ("post_id") REFERENCES "posts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "post_hashtags" ADD CONSTRAINT "post_hashtags_hashtag_id_fkey" FOREIGN KEY ("hashtag_id") REFERENCES "hashtags"("id") ON DELETE CASCADE ON UPDATE CASCADE;

