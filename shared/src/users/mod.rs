//! Users: the types, their SQL and cache keys, and the profile and admin routes.

mod repo;
mod routes;
mod types;

pub use repo::{
    by_email, by_id, create, invalidate_lists, list_page_json, set_blocked, touch_last_active, update_profile,
    upsert_admin, NewReferral, LIST_CACHE_FAMILY,
};
pub use routes::{BLOCK, GET, LIST, PROFILE_GET, PROFILE_UPDATE};
pub use types::{
    DeviceFingerprint, Email, KycStatus, NewUser, OnboardingStep, PersonName, Phone, ProfileUpdate, Role, Status, User,
};
