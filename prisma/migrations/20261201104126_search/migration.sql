-- CreateExtension
CREATE EXTENSION IF NOT EXISTS "pg_trgm";

-- AlterTable
-- Written by hand: Prisma declares the column (Unsupported("tsvector")) but cannot express a generated one.
-- English stemming and stop words; the body is null for reposts and deleted posts, and so is the vector.
ALTER TABLE "posts" ADD COLUMN     "search_vector" tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, "body")) STORED;

-- CreateIndex
CREATE INDEX "users_handle_key_trgm_idx" ON "users" USING GIN ("handle_key" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "users_display_name_trgm_idx" ON "users" USING GIN ("display_name" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "posts_search_vector_idx" ON "posts" USING GIN ("search_vector");

