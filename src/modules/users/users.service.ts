import { Prisma, type PrismaClient } from "@prisma/client";
import { z } from "zod";
import type { Viewer } from "../auth/viewer.js";
import { ForbiddenError, NotFoundError, ValidationError, parseInput } from "../../errors.js";
import { hashPassword } from "../auth/credentials.js";
import { avatarChange } from "../media/media.service.js";

type Db = PrismaClient;

const RESERVED_HANDLES = new Set([
  "about", "account", "admin", "administrator", "api", "auth", "chirp", "explore", "graphql", "graphiql", "help",
  "home", "login", "logout", "me", "messages", "moderator", "notifications", "null", "root", "search", "security",
  "settings", "signup", "staff", "support", "system", "undefined", "viewer",
]);

export const handleKey = (handle: string) => handle.trim().toLowerCase();

const Handle = z
  .string()
  .trim()
  .min(3, "At least 3 characters")
  .max(20, "At most 20 characters")
  .regex(/^[A-Za-z0-9_]+$/, "Only letters, digits and underscores")
  .refine((h) => !RESERVED_HANDLES.has(h.toLowerCase()), "This handle is reserved");

const DisplayName = z.string().trim().min(1, "Must not be empty").max(50, "At most 50 characters");

/** The rules of every new password: sign-up, reset. */
export const Password = z.string().min(10, "At least 10 characters").max(256, "At most 256 characters");

/** An email address as stored: trimmed and lower-cased. */
export const Email = z.string().trim().toLowerCase().pipe(z.email("Enter a valid email address"));

const NewUser = z.object({
  handle: Handle,
  email: Email,
  password: Password,
  displayName: DisplayName.optional(),
});

export async function createUser(db: Db, input: z.input<typeof NewUser>) {
  const { handle, email, password, displayName } = parseInput(NewUser, input);
  const taken = await db.user.findMany({
    where: { OR: [{ handleKey: handleKey(handle) }, { email }] },
    select: { handleKey: true, email: true },
  });
  const errors = [];
  if (taken.some((u) => u.handleKey === handleKey(handle))) errors.push({ field: "handle", message: "This handle is taken" });
  if (taken.some((u) => u.email === email)) errors.push({ field: "email", message: "An account with this email exists" });
  if (errors.length > 0) throw new ValidationError(errors);
  try {
    return await db.user.create({
      data: {
        handle,
        handleKey: handleKey(handle),
        email,
        displayName: displayName ?? handle,
        passwordHash: await hashPassword(password),
      },
      select: { id: true, role: true, email: true },
    });
  } catch (error) {
    // Lost a race with another sign-up between the check and the insert.
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002") {
      throw ValidationError.of("handle", "This handle or email is taken");
    }
    throw error;
  }
}

const ProfileChanges = z.object({
  displayName: DisplayName.optional(),
  bio: z.string().trim().max(160, "At most 160 characters").optional(),
  messagePolicy: z.enum(["EVERYONE", "FOLLOWING", "NOBODY"]).optional(),
});

export async function updateProfile<Q extends object>(db: Db, viewer: Viewer, input: z.input<typeof ProfileChanges> & { avatarMediaId?: number | null }, query: Q) {
  const { avatarMediaId, ...text } = input;
  const changes = parseInput(ProfileChanges, text);
  if (avatarMediaId === undefined) return db.user.update({ ...query, where: { id: viewer.id }, data: changes });
  return db.$transaction(async (tx) => tx.user.update({ ...query, where: { id: viewer.id }, data: { ...changes, ...(await avatarChange(tx, viewer, avatarMediaId)) } }));
}

/** Suspends or reinstates a user; authentication applies it to every credential of theirs at once. */
export async function setSuspended<Q extends object>(db: Db, admin: Viewer, userId: number, suspended: boolean, query: Q) {
  if (userId === admin.id) throw new ForbiddenError("You cannot suspend yourself.");
  const user = await db.user.findUnique({ where: { id: userId }, select: { id: true, suspendedAt: true } });
  if (!user) throw new NotFoundError("User");
  return db.user.update({
    ...query,
    where: { id: userId },
    data: { suspendedAt: suspended ? (user.suspendedAt ?? new Date()) : null },
  });
}
