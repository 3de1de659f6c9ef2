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
  /** Whom the viewer blocked, who blocked the viewer, and whom the viewer muted: loaded with the credential. */
  blocking: Set<number>;
  blockedBy: Set<number>;
  muting: Set<number>;
}

/** What a credential's query selects of its user to become a viewer (see toViewer). */
export const VIEWER_USER_SELECT = {
  id: true,
  role: true,
  suspendedAt: true,
  blocking: { select: { blockedId: true } },
  blockedBy: { select: { blockerId: true } },
  muting: { select: { mutedId: true } },
} as const;

interface ViewerUser {
  id: number;
  role: Role;
  blocking: { blockedId: number }[];
  blockedBy: { blockerId: number }[];
  muting: { mutedId: number }[];
}

export const toViewer = (user: ViewerUser, credential: Pick<Viewer, "canRead" | "canWrite" | "sessionId">): Viewer => ({
  id: user.id,
  role: user.role,
  ...credential,
  blocking: new Set(user.blocking.map((b) => b.blockedId)),
  blockedBy: new Set(user.blockedBy.map((b) => b.blockerId)),
  muting: new Set(user.muting.map((m) => m.mutedId)),
});

/** The rule of every private field (email, sessions, API tokens): the user themselves, with a credential that reads. */
export const isPrivateTo = (user: { id: number }, _args: unknown, ctx: { viewer: Viewer | null }) =>
  ctx.viewer?.id === user.id && ctx.viewer.canRead;
