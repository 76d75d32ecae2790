import type { Role } from "./types";

export interface NavItem {
  path: string;
  label: string;
  roles: readonly Role[];
}

const STAFF: readonly Role[] = ["admin", "marketer", "analyst"];
const ADMIN: readonly Role[] = ["admin"];

/** The console's pages, and who may open each (the API's own rules for what they call). */
export const NAV: NavItem[] = [
  { path: "overview", label: "Overview", roles: STAFF },
  { path: "onboarding", label: "Onboarding", roles: STAFF },
  { path: "retention", label: "Retention", roles: STAFF },
  { path: "funnels", label: "Funnels", roles: STAFF },
  { path: "referrals", label: "Referrals", roles: STAFF },
  { path: "experiments", label: "Experiments", roles: STAFF },
  { path: "rewards", label: "Rewards", roles: ADMIN },
  { path: "users", label: "Users", roles: ADMIN },
  { path: "notifications", label: "Notifications", roles: ADMIN },
  { path: "api-keys", label: "API keys", roles: ADMIN },
  { path: "webhooks", label: "Webhooks", roles: ADMIN },
];

export const canOpen = (path: string, role: Role) => NAV.find((n) => n.path === path)?.roles.includes(role) ?? false;

/** Who may change experiments (create, start, pause, complete). */
export const canEditExperiments = (role: Role) => role === "admin" || role === "marketer";
