import type { ComponentChildren } from "preact";
import { plainError } from "../api";
import type { Load } from "../hooks";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div class="state loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return (
    <div class="state empty" data-testid="empty">
      {children}
    </div>
  );
}

export function ErrorNote({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  return (
    <div class="state error" role="alert" data-testid="error">
      <p>{plainError(error)}</p>
      {onRetry && (
        <button type="button" class="secondary" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** Loading, error and empty states around whatever renders the data. */
export function Async<T>({
  load,
  isEmpty,
  empty,
  children,
}: {
  load: Load<T> & { reload?: () => void };
  isEmpty?: (data: T) => boolean;
  empty?: ComponentChildren;
  children: (data: T) => ComponentChildren;
}) {
  if (load.state === "loading") return <Loading />;
  if (load.state === "error") return <ErrorNote error={load.error} onRetry={load.reload} />;
  if (isEmpty?.(load.data)) return <Empty>{empty ?? "Nothing to show for this selection."}</Empty>;
  return <>{children(load.data)}</>;
}
