//! Users: the types, their SQL and cache keys, and the profile and admin routes.

mod repo;
mod routes;
mod types;

pub use repo::{
    by_email, by_id, change_account, create, invalidate_lists, list_page_json, normalise_phones, rehash_password,
    touch_last_active, update_profile, upsert_admin, verify_email, AccountChange, NewReferral, PhoneReport, Verified,
    LIST_CACHE_FAMILY,
};
pub use routes::{BLOCK, GET, LIST, PASSWORD, PROFILE_GET, PROFILE_UPDATE, ROLE};
pub use types::{
    DeviceFingerprint, Email, KycStatus, NewUser, OnboardingStep, PersonName, Phone, PhoneRegion, ProfileUpdate, Role,
    StaffView, Status, User,
};
