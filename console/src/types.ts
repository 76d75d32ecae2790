// The API's shapes the console reads, after the envelope is unwrapped (see openapi.json).

export type Role = "admin" | "marketer" | "analyst" | "user";
export const STAFF: readonly Role[] = ["admin", "marketer", "analyst"];

export type OnboardingStep = "email" | "phone" | "bvn" | "selfie" | "kyc_complete";

export interface User {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  role: Role;
  status: "active" | "inactive" | "suspended" | "deleted";
  onboardingStep: OnboardingStep;
  kycStatus: "pending" | "failed" | "successful";
  referralCode: string;
  referredBy?: string | null;
  blocked: boolean;
  phone?: string | null;
  emailVerifiedAt?: string | null;
  lastActiveAt?: string | null;
  createdAt: string;
  fraudScore?: number;
}

/** What the console keeps in the browser: the refresh token is not here but in an HttpOnly
 * cookie the server sets, out of reach of any script on the page. */
export interface Session {
  accessToken: string;
  user: User;
}

export interface UserListItem {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  role: Role;
  status: User["status"];
  blocked: boolean;
  createdAt: string;
  referrals: { id: string; status: ReferralStatus }[];
}

export interface UsersAnalytics {
  totalUsers: number;
  activeUsers: number;
  newUsers: number;
  usersByRole: Record<string, number>;
  usersByStatus: Record<string, number>;
  blockedUsers: number;
}

export interface OnboardingAnalytics {
  totalUsers: number;
  conversionRate: number;
  steps: {
    step: OnboardingStep;
    current: number;
    reached: number;
    dropOffFromPrevious: number;
    conversionFromPrevious: number;
  }[];
}

export interface TimeToKyc {
  completed: number;
  averageHours?: number | null;
  medianHours?: number | null;
}

export type ReferralStatus = "pending" | "completed" | "failed" | "rewarded";

export interface ReferralAnalytics {
  totalReferrals: number;
  statusCounts: Record<ReferralStatus, number>;
  totalRewards: Record<string, string>;
  completionRate: number;
  fraudRate: number;
  topReferrers: { userId: string; name: string; referrals: number; rewarded: number }[];
}

export interface EventAnalytics {
  totalEvents: number;
  uniqueUsers: number;
  eventCounts: Record<string, number>;
  timeSeries: { period: string; events: number; users: number }[];
}

export interface RetentionAnalytics {
  totalUsers: number;
  activeUsers: number;
  retentionRates: { "7d": number; "30d": number; "90d": number };
  cohortUnit: "week" | "month";
  cohorts: { cohort: string; start: string; size: number; retained: number[] }[];
}

export interface FunnelStep {
  eventName: string;
  users: number;
  conversionFromPrevious?: number | null;
  medianHoursFromPrevious?: number | null;
}

export interface FunnelResult {
  windowHours: number;
  steps: FunnelStep[];
  groups?: { referred: { steps: FunnelStep[] }; organic: { steps: FunnelStep[] } };
}

export interface ReferralTreeNode {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  depth: number;
  joinedAt: string;
  referralStatus?: ReferralStatus | null;
  fraudScore?: number | null;
  fraudReasons?: string[] | null;
  referrals: ReferralTreeNode[];
}

export type ExperimentStatus = "draft" | "active" | "paused" | "completed";

export interface Variant {
  name: string;
  weight: number;
  config?: Record<string, unknown> | null;
}

export interface Experiment {
  id: string;
  key: string;
  name: string;
  description?: string | null;
  status: ExperimentStatus;
  variants: Variant[];
  metric: { eventName: string; windowHours?: number };
  targeting: { roles?: Role[] | null; onboardingSteps?: OnboardingStep[] | null; referred?: boolean | null };
  startDate?: string | null;
  endDate?: string | null;
  startedAt?: string | null;
  completedAt?: string | null;
  createdAt: string;
}

export interface VariantResult {
  name: string;
  participants: number;
  conversions: number;
  conversionRate: number;
  lift?: number | null;
  /** The 95 % interval of the difference in rate from the control, [low, high]. */
  ci95?: [number, number] | null;
  pValue?: number | null;
  chanceToBeatControl?: number | null;
}

export interface ExperimentResults {
  experimentId: string;
  key: string;
  name: string;
  status: ExperimentStatus;
  metric: { eventName: string; windowHours?: number };
  totalParticipants: number;
  excludedUsers: number;
  variants: VariantResult[];
  srm: { chiSquare: number; pValue: number; mismatch: boolean };
}

export type RewardStatus = "pending" | "available" | "paid" | "voided";

export interface Reward {
  id: string;
  referralId: string;
  userId: string;
  side: "referrer" | "referred";
  amount: string;
  currency: string;
  status: RewardStatus;
  availableAt: string;
  createdAt: string;
  externalRef?: string | null;
  paidAt?: string | null;
  voidReason?: string | null;
  voidedAt?: string | null;
}

export interface Pagination {
  page: number;
  limit: number;
  total: number;
  pages: number;
}

export interface RewardPage {
  rewards: Reward[];
  totals: Record<string, string>;
  pagination: Pagination;
}

/** What an API key may do; each route that takes keys names one. */
export type ApiKeyScope = "events:write" | "rewards:read" | "rewards:write" | "users:read";

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: ApiKeyScope[];
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export type WebhookEventType =
  | "user.registered"
  | "user.erased"
  | "kyc.updated"
  | "referral.completed"
  | "reward.available"
  | "reward.paid"
  | "reward.voided"
  | "experiment.completed";

export interface Webhook {
  id: string;
  url: string;
  description: string;
  events: WebhookEventType[];
  enabled: boolean;
  disabledReason: string | null;
  failingSince: string | null;
  previousSecretUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface WebhookDelivery {
  id: string;
  eventId: string;
  eventType: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  createdAt: string;
}
