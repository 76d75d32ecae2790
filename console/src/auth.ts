// Signing in and out. Only staff get a session: a plain user's tokens are handed back at once.

import { ApiError, request, session, setSession } from "./api";
import { STAFF, type Session } from "./types";

export class NotStaffError extends Error {
  constructor() {
    super("This console is for staff (admins, marketers and analysts). Your account cannot use it.");
  }
}

export async function signIn(email: string, password: string): Promise<Session> {
  const data = await request<Session>("POST", "/api/auth/login", {
    body: { email, password },
    anonymous: true,
    cookieSession: true,
  });
  const next: Session = { accessToken: data.accessToken, user: data.user };
  if (!STAFF.includes(next.user.role)) {
    await endSession();
    throw new NotStaffError();
  }
  setSession(next);
  return next;
}

/** Ends the session whose refresh token is in the cookie, and clears the cookie. */
async function endSession(): Promise<void> {
  try {
    await request("POST", "/api/auth/logout", { body: {}, anonymous: true, cookieSession: true });
  } catch (e) {
    // Signing out locally still happens; the token expires on its own.
    if (!(e instanceof ApiError)) throw e;
  }
}

export async function signOut(): Promise<void> {
  const s = session();
  setSession(null);
  if (s) await endSession();
}
