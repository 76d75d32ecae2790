// Typed calls, one per API operation the console uses (operationIds in comments).

import { api, download, type Query } from "./api";
import type {
  ApiKey,
  ApiKeyScope,
  Webhook,
  WebhookDelivery,
  WebhookEventType,
  EventAnalytics,
  Experiment,
  ExperimentResults,
  ExperimentStatus,
  FunnelResult,
  OnboardingAnalytics,
  Pagination,
  ReferralAnalytics,
  ReferralTreeNode,
  RetentionAnalytics,
  Reward,
  RewardPage,
  TimeToKyc,
  User,
  UserListItem,
  UsersAnalytics,
  Variant,
} from "./types";

export interface Range {
  startDate?: string;
  endDate?: string;
}

export const analytics = {
  users: (r: Range) => api.get<UsersAnalytics>("/api/analytics/users", { ...r }),
  onboarding: (r: Range) => api.get<OnboardingAnalytics>("/api/analytics/onboarding", { ...r }),
  referrals: (r: Range) => api.get<ReferralAnalytics>("/api/analytics/referrals", { ...r }),
  events: (q: Range & { eventName?: string; interval?: "day" | "week" }) =>
    api.get<EventAnalytics>("/api/analytics/events", { ...q }),
  retention: (q: Range & { cohort: "week" | "month"; periods: number; returnEvent?: string }) =>
    api.get<RetentionAnalytics>("/api/analytics/retention", { ...q }),
  funnel: (body: { steps: string[]; windowHours: number; groupBy?: "referred" } & Range) =>
    api.post<FunnelResult>("/api/analytics/funnels", body),
  // admin only
  timeToKyc: (r: Range) => api.get<TimeToKyc>("/api/onboarding/time-stats", { ...r }),
};

export const referrals = {
  tree: (userId: string, depth: number) =>
    api.get<{ depth: number; size: number; tree: ReferralTreeNode }>("/api/referrals/tree", { userId, depth }),
};

export interface NewExperiment {
  key: string;
  name: string;
  description?: string;
  variants: Variant[];
  metric: { eventName: string; windowHours: number };
}

export const experiments = {
  list: (q: { status?: ExperimentStatus; page?: number; limit?: number }) =>
    api.get<{ experiments: Experiment[]; pagination: Pagination }>("/api/experiments", { ...q }),
  get: (id: string) => api.get<{ experiment: Experiment }>(`/api/experiments/${encodeURIComponent(id)}`),
  create: (body: NewExperiment) => api.post<{ experiment: Experiment }>("/api/experiments", body),
  setStatus: (id: string, status: ExperimentStatus) =>
    api.patch<{ experiment: Experiment }>(`/api/experiments/${encodeURIComponent(id)}`, { status }),
  results: (id: string) =>
    api.get<{ results: ExperimentResults }>(`/api/experiments/${encodeURIComponent(id)}/results`),
};

export interface RewardFilter extends Range {
  status?: string;
}

export const rewards = {
  list: (f: RewardFilter & { page: number; limit: number }) => api.get<RewardPage>("/api/admin/rewards", { ...f }),
  csv: (f: RewardFilter) => download("/api/admin/rewards", { ...(f as Query), format: "csv" }),
  markPaid: (id: string, externalRef: string) =>
    api.patch<Reward>(`/api/admin/rewards/${id}`, { status: "paid", externalRef }),
  void: (id: string, reason: string) => api.patch<Reward>(`/api/admin/rewards/${id}`, { status: "voided", reason }),
};

export const apiKeys = {
  list: () => api.get<{ apiKeys: ApiKey[] }>("/api/admin/api-keys"),
  create: (name: string, scopes: ApiKeyScope[]) =>
    api.post<ApiKey & { key: string }>("/api/admin/api-keys", { name, scopes }),
  revoke: (id: string) => api.delete<ApiKey>(`/api/admin/api-keys/${encodeURIComponent(id)}`),
};

export const webhooks = {
  list: () => api.get<{ webhooks: Webhook[] }>("/api/admin/webhooks"),
  create: (url: string, events: WebhookEventType[], description: string) =>
    api.post<Webhook & { secret: string }>("/api/admin/webhooks", { url, events, description }),
  setEnabled: (id: string, enabled: boolean) => api.patch<Webhook>(`/api/admin/webhooks/${encodeURIComponent(id)}`, { enabled }),
  remove: (id: string) => api.delete<{ id: string; deleted: boolean }>(`/api/admin/webhooks/${encodeURIComponent(id)}`),
  test: (id: string) => api.post<{ queued: number }>(`/api/admin/webhooks/${encodeURIComponent(id)}/test`),
  deliveries: (id: string) =>
    api.get<{ deliveries: WebhookDelivery[] }>(`/api/admin/webhooks/${encodeURIComponent(id)}/deliveries`, { limit: 50 }),
  redeliver: (id: string, delivery: string) =>
    api.post<WebhookDelivery>(
      `/api/admin/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(delivery)}/redeliver`,
    ),
};

export const users = {
  list: (limit: number, offset: number) =>
    api.get<{ users: UserListItem[]; pagination: { limit: number; offset: number } }>("/api/users", { limit, offset }),
  get: (id: string) => api.get<User>(`/api/users/${encodeURIComponent(id)}`),
  setBlocked: (id: string, blocked: boolean) => api.patch<User>(`/api/users/${id}/block`, { blocked }),
};

export interface NotificationContent {
  title: string;
  content: string;
  type: string;
  channel: string;
}

export const notifications = {
  send: (userId: string, c: NotificationContent) =>
    api.post<{ id: string; status: string }>("/api/notifications/send", { userId, ...c }),
  batch: (userIds: string[], c: NotificationContent) =>
    api.post<{ queued: number; ids: string[] }>("/api/notifications/batch", { userIds, ...c }),
};
