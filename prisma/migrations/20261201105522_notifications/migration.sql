-- CreateEnum
CREATE TYPE "NotificationKind" AS ENUM ('LIKE', 'REPLY', 'REPOST', 'FOLLOW', 'MENTION');

-- CreateTable
CREATE TABLE "notifications" (
    "id" SERIAL NOT NULL,
    "recipient_id" INTEGER NOT NULL,
    "kind" "NotificationKind" NOT NULL,
    "post_id" INTEGER,
    "group_key" TEXT NOT NULL,
    "window_start" TIMESTAMP(3),
    "seq" SERIAL NOT NULL,
    "first_unread_seq" INTEGER,
    "actor_count" INTEGER NOT NULL,
    "latest_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "notifications_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "notification_actors" (
    "id" SERIAL NOT NULL,
    "notification_id" INTEGER NOT NULL,
    "actor_id" INTEGER NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "notification_actors_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "notification_inboxes" (
    "user_id" INTEGER NOT NULL,
    "unread_count" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "notification_inboxes_pkey" PRIMARY KEY ("user_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "notifications_seq_key" ON "notifications"("seq");

-- CreateIndex
CREATE INDEX "notifications_recipient_id_seq_idx" ON "notifications"("recipient_id", "seq" DESC);

-- CreateIndex
CREATE INDEX "notifications_recipient_id_kind_seq_idx" ON "notifications"("recipient_id", "kind", "seq" DESC);

-- CreateIndex
CREATE INDEX "notifications_post_id_kind_seq_idx" ON "notifications"("post_id", "kind", "seq" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "notifications_recipient_id_group_key_key" ON "notifications"("recipient_id", "group_key");

-- CreateIndex
CREATE INDEX "notification_actors_notification_id_id_idx" ON "notification_actors"("notification_id", "id" DESC);

-- CreateIndex
CREATE INDEX "notification_actors_actor_id_idx" ON "notification_actors"("actor_id");

-- CreateIndex
CREATE UNIQUE INDEX "notification_actors_notification_id_actor_id_key" ON "notification_actors"("notification_id", "actor_id");

-- AddForeignKey
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_recipient_id_fkey" FOREIGN KEY ("recipient_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_post_id_fkey" FOREIGN KEY ("post_id") REFERENCES "posts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "notification_actors" ADD CONSTRAINT "notification_actors_notification_id_fkey" FOREIGN KEY ("notification_id") REFERENCES "notifications"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "notification_actors" ADD CONSTRAINT "notification_actors_actor_id_fkey" FOREIGN KEY ("actor_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "notification_inboxes" ADD CONSTRAINT "notification_inboxes_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

