import type { Role } from "@prisma/client";

/**
 * Who is making the request, resolved once from its credentials. A suspended account never becomes
 * a viewer: its credentials are refused where they are checked (auth.service.ts `authenticate`).
 */
export interface Viewer {
  id: number;
  role: Role;
  /** False for a personal API token without the READ scope: it runs mutations only. */
  canRead: boolean;
  /** False for a personal API token without the WRITE scope. */
  canWrite: boolean;
  /** The signed-in session, when the request carries an access token (not an API token). */
  sessionId: string | null;
}

/** The rule of every private field (email, sessions, API tokens): the user themselves, with a credential that reads. */
export const isPrivateTo = (user: { id: number }, _args: unknown, ctx: { viewer: Viewer | null }) =>
  ctx.viewer?.id === user.id && ctx.viewer.canRead;
