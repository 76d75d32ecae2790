import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { onSessionChange, session } from "./api";
import type { Session } from "./types";

export type Load<T> =
  | { state: "loading"; data?: undefined; error?: undefined }
  | { state: "ok"; data: T; error?: undefined }
  | { state: "error"; data?: undefined; error: unknown };

/** Runs `fn` when `deps` change; answers that arrive after a newer call started are dropped. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): Load<T> & { reload: () => void } {
  const [load, setLoad] = useState<Load<T>>({ state: "loading" });
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    const call = ++latest.current;
    setLoad({ state: "loading" });
    fn().then(
      (data) => call === latest.current && setLoad({ state: "ok", data }),
      (error) => call === latest.current && setLoad({ state: "error", error }),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...load, reload };
}

export function useSession(): Session | null {
  const [s, setS] = useState(session());
  useEffect(() => onSessionChange(setS), []);
  return s;
}

/** The hash route, e.g. `#/experiments/abc` → ["experiments", "abc"], and its query. */
export function useRoute(): { parts: string[]; query: URLSearchParams } {
  const read = () => parseHash(location.hash);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

function parseHash(hash: string): { parts: string[]; query: URLSearchParams } {
  const [path, qs] = hash.replace(/^#\/?/, "").split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(qs ?? "") };
}

export function navigate(path: string): void {
  location.hash = `#/${path.replace(/^\//, "")}`;
}
