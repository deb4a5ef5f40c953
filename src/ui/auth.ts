import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'rainops_ui_session';
/** A session lasts this long after sign-in (ms); then the token is asked for again. */
const SESSION_MS = 8 * 60 * 60 * 1000;
/** Old sessions are swept when this many are open, so the map cannot grow without bound. */
const MAX_SESSIONS = 1000;

interface Session {
  csrf: string;
  expires: number;
}

export interface AdminAuth {
  /** False when the UI was started without --admin-token: no page can write. */
  readonly enabled: boolean;
  /** A new session id when the token is right, else null. */
  signIn(token: string): { id: string; csrf: string } | null;
  /** The session's CSRF token, or null when the cookie names no live session. */
  session(id: string | undefined): { csrf: string } | null;
  /** True when the form's CSRF token is the session's. */
  checkCsrf(id: string | undefined, token: string | undefined): boolean;
  signOut(id: string | undefined): void;
}

const digest = (s: string) => createHash('sha256').update(s).digest();
const same = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

/** Sessions in memory: the admin token once, then an HttpOnly cookie; a restart signs everyone out. */
export function createAdminAuth(adminToken: string | undefined, now: () => number = Date.now): AdminAuth {
  const sessions = new Map<string, Session>();
  const live = (id: string | undefined): Session | null => {
    if (!id) return null;
    const s = sessions.get(id);
    if (!s) return null;
    if (s.expires <= now()) {
      sessions.delete(id);
      return null;
    }
    return s;
  };
  return {
    enabled: adminToken !== undefined,
    signIn(token) {
      if (adminToken === undefined || !same(token, adminToken)) return null;
      if (sessions.size >= MAX_SESSIONS) {
        for (const [id, s] of sessions) if (s.expires <= now()) sessions.delete(id);
        if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value as string);
      }
      const id = randomBytes(32).toString('base64url');
      const csrf = randomBytes(32).toString('base64url');
      sessions.set(id, { csrf, expires: now() + SESSION_MS });
      return { id, csrf };
    },
    session(id) {
      const s = live(id);
      return s ? { csrf: s.csrf } : null;
    },
    checkCsrf(id, token) {
      const s = live(id);
      return s !== null && token !== undefined && same(token, s.csrf);
    },
    signOut(id) {
      if (id) sessions.delete(id);
    },
  };
}
