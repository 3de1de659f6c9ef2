-- AlterTable
ALTER TABLE "notification_actors" ADD COLUMN     "seq" INTEGER;

-- Existing rows: which seq each actor drew is not known, only the entry's latest. Every actor of an
-- entry gets the entry's seq, so taking one of them back leaves the entry where it is and as read
-- or unread as it is (as before this column); actors who join later draw their own.
UPDATE "notification_actors" a SET "seq" = n."seq" FROM "notifications" n WHERE n."id" = a."notification_id";

ALTER TABLE "notification_actors" ALTER COLUMN "seq" SET NOT NULL;
