// The one way the console talks to the API: same origin, bearer token, the envelope
// unwrapped. A 401 refreshes the access token once (one refresh at a time, shared by every
// request waiting on it) and retries; errors come back as ApiError in plain words. The
// session's refresh token lives in an HttpOnly cookie (`X-GrowStack-Session: cookie`), so
// no script on the page can read it.

import type { Session } from "./types";

const STORAGE_KEY = "growstack.console.session";

type Listener = (session: Session | null) => void;
const listeners = new Set<Listener>();
let current: Session | null = load();

function load(): Session | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    // A session stored before the cookie kept a refresh token here: drop it.
    const { accessToken, user } = JSON.parse(raw) as Session & { refreshToken?: string };
    const session = { accessToken, user };
    localStorage.setItem(STORAGE_KEY, JSON.stringify(session));
    return session;
  } catch {
    return null;
  }
}

export function session(): Session | null {
  return current;
}

export function setSession(next: Session | null): void {
  current = next;
  if (next) localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
  else localStorage.removeItem(STORAGE_KEY);
  listeners.forEach((l) => l(next));
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** What the API's error codes mean to someone using the console. */
const PLAIN_WORDS: Record<string, string> = {
  VALIDATION_ERROR: "Some of what was entered is not accepted.",
  UNAUTHORIZED: "Your session has ended. Please sign in again.",
  FORBIDDEN: "Your role does not allow this.",
  NOT_FOUND: "That could not be found. It may have been removed.",
  CONFLICT: "That cannot be done in its current state.",
  RATE_LIMITED: "Too many attempts. Please wait a moment and try again.",
  SERVICE_UNAVAILABLE: "The service is busy or partly down. Please try again shortly.",
  INTERNAL_ERROR: "Something went wrong on the server. Please try again; if it keeps happening, tell the engineering team.",
  NETWORK: "The server cannot be reached. Check your connection and try again.",
};

export class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    /** The API's own message: specific, but written for developers. */
    readonly detail: string,
    /** The request field a 400 (or a 409 on a unique field) is about, e.g. `variants[1].weight`. */
    readonly field?: string,
    readonly retryAfter?: number,
  ) {
    super(detail);
  }

  /** A sentence for the person at the screen. */
  get plain(): string {
    // Validation and conflict messages name what is wrong ("the weights sum to 90 …"),
    // which helps more than a generic sentence.
    if ((this.code === "VALIDATION_ERROR" || this.code === "CONFLICT") && this.detail) {
      return capitalise(this.detail) + ".";
    }
    if (this.code === "RATE_LIMITED" && this.retryAfter) {
      return `Too many attempts. Please try again in ${this.retryAfter} seconds.`;
    }
    return PLAIN_WORDS[this.code] ?? PLAIN_WORDS.INTERNAL_ERROR;
  }
}

function capitalise(s: string): string {
  const t = s.replace(/[.\s]+$/, "");
  return t.charAt(0).toUpperCase() + t.slice(1);
}

/** The message to show for anything a request threw. */
export function plainError(e: unknown): string {
  return e instanceof ApiError ? e.plain : PLAIN_WORDS.INTERNAL_ERROR;
}

export type Query = Record<string, string | number | boolean | undefined | null>;

interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** No bearer token and no refresh: sign-in and the token calls themselves. */
  anonymous?: boolean;
  /** The session calls: the refresh token travels in the HttpOnly cookie. */
  cookieSession?: boolean;
}

function url(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

async function send(method: string, path: string, opts: RequestOptions, token?: string): Promise<Response> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.cookieSession) headers["x-growstack-session"] = "cookie";
  try {
    return await fetch(url(path, opts.query), {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
  } catch {
    throw new ApiError("NETWORK", 0, "network error");
  }
}

let refreshing: Promise<boolean> | null = null;

/** Trades the refresh token for a new pair; false when the session cannot go on. */
function refresh(): Promise<boolean> {
  if (!refreshing) {
    refreshing = (async () => {
      const s = current;
      if (!s) return false;
      try {
        const res = await send("POST", "/api/auth/refresh-token", { body: {}, cookieSession: true });
        const data = await unwrap<Session>(res);
        setSession({ accessToken: data.accessToken, user: data.user });
        return true;
      } catch {
        setSession(null);
        return false;
      }
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** Sends a request with the session's token; on a 401 refreshes once and tries again. */
async function authorised(method: string, path: string, opts: RequestOptions): Promise<Response> {
  if (opts.anonymous) return send(method, path, opts);
  const token = current?.accessToken;
  const res = await send(method, path, opts, token);
  if (res.status !== 401 || !token) return res;
  // Another request may have refreshed already while this one was in flight.
  if (current && current.accessToken !== token) return send(method, path, opts, current.accessToken);
  return (await refresh()) ? send(method, path, opts, current!.accessToken) : res;
}

async function unwrap<T>(res: Response): Promise<T> {
  let body: { success?: boolean; data?: T; error?: { code: string; message: string; details?: { field?: string } } };
  try {
    body = await res.json();
  } catch {
    throw new ApiError(res.status >= 500 ? "INTERNAL_ERROR" : "NETWORK", res.status, `HTTP ${res.status}`);
  }
  if (res.ok && body.success) return body.data as T;
  const err = body.error ?? { code: "INTERNAL_ERROR", message: `HTTP ${res.status}` };
  const retry = Number(res.headers.get("retry-after")) || undefined;
  throw new ApiError(err.code, res.status, err.message, err.details?.field, retry);
}

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  return unwrap<T>(await authorised(method, path, opts));
}

/** A file the API streams (the ledger's CSV), with the same token handling. */
export async function download(path: string, query?: Query): Promise<Blob> {
  const res = await authorised("GET", path, { query });
  if (!res.ok) await unwrap(res);
  return res.blob();
}

export const api = {
  get: <T>(path: string, query?: Query) => request<T>("GET", path, { query }),
  post: <T>(path: string, body?: unknown) => request<T>("POST", path, { body }),
  put: <T>(path: string, body?: unknown) => request<T>("PUT", path, { body }),
  patch: <T>(path: string, body?: unknown) => request<T>("PATCH", path, { body }),
  delete: <T>(path: string) => request<T>("DELETE", path),
};
