import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { signOut } from "../auth";
import { NAV } from "../nav";
import type { Session } from "../types";

const roleLabel = { admin: "Admin", marketer: "Marketer", analyst: "Analyst", user: "User" };

export function Layout({ session, current, children }: { session: Session; current: string; children: ComponentChildren }) {
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => setMenuOpen(false), [current]);
  const items = NAV.filter((n) => n.roles.includes(session.user.role));
  return (
    <div class="shell">
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
        Skip to content
      </a>
      <header class="topbar">
        <span class="brand">GrowStack</span>
        <button
          type="button"
          class="menu-toggle secondary"
          aria-expanded={menuOpen}
          aria-controls="nav"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          Menu
        </button>
        <div class="who">
          <span data-testid="who">
            {session.user.firstName} {session.user.lastName} · <strong>{roleLabel[session.user.role]}</strong>
          </span>
          <button type="button" class="secondary" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <nav id="nav" class={menuOpen ? "open" : ""} aria-label="Console">
        <ul>
          {items.map((n) => (
            <li key={n.path}>
              <a href={`#/${n.path}`} aria-current={current === n.path ? "page" : undefined}>
                {n.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}

export function Page({ title, actions, children }: { title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · GrowStack console`;
  }, [title]);
  return (
    <>
      <div class="page-head">
        <h1>{title}</h1>
        {actions && <div class="actions">{actions}</div>}
      </div>
      {children}
    </>
  );
}

export function Card({ title, children, wide }: { title?: string; children: ComponentChildren; wide?: boolean }) {
  return (
    <section class={`card${wide ? " wide" : ""}`}>
      {title && <h2>{title}</h2>}
      {children}
    </section>
  );
}
