import type { ComponentChildren } from "preact";
import { ApiError } from "../api";

let next = 0;
export const uid = (prefix: string) => `${prefix}-${++next}`;

/** A labelled control with its error below it, tied together for screen readers. */
export function Field({
  id,
  label,
  error,
  hint,
  children,
}: {
  id: string;
  label: string;
  error?: string;
  hint?: string;
  children: ComponentChildren;
}) {
  return (
    <div class={`field${error ? " invalid" : ""}`} data-field={id}>
      <label for={id}>{label}</label>
      {children}
      {hint && !error && (
        <small class="hint" id={`${id}-hint`}>
          {hint}
        </small>
      )}
      {error && (
        <small class="field-error" id={`${id}-error`} role="alert">
          {error}
        </small>
      )}
    </div>
  );
}

/** The message of an API error about `field` (or one of its parts, e.g. `variants[1].weight`). */
export function fieldError(error: unknown, field: string): string | undefined {
  if (!(error instanceof ApiError) || !error.field) return undefined;
  const f = error.field;
  return f === field || f.startsWith(`${field}.`) || f.startsWith(`${field}[`) ? error.plain : undefined;
}

/** Whether an error belongs to none of the form's fields, so it goes above the form. */
export function formLevel(error: unknown, fields: string[]): boolean {
  return !!error && !fields.some((f) => fieldError(error, f));
}

export function ariaFor(id: string, error?: string) {
  return { id, "aria-invalid": error ? ("true" as const) : undefined, "aria-describedby": error ? `${id}-error` : undefined };
}
