import type { Role } from "@prisma/client";

/**
 * Who is making the request, resolved once from its credentials. A suspended account never becomes
 * a viewer: its credentials are refused where they are checked (auth.service.ts `authenticate`).
 */
export interface Viewer {
  id: number;
  role: Role;
  /** False for a personal API token without the WRITE scope. */
  canWrite: boolean;
  /** The signed-in session, when the request carries an access token (not an API token). */
  sessionId: string | null;
}
