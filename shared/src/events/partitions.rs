//! The monthly partitions of `events`: made ahead of time (by `migrate` and by a daily
//! scheduler task) so an insert never finds none, and dropped whole once past the retention.

use chrono::{Datelike, Duration, NaiveDate, Utc};

use crate::db::Conn;
use crate::error::Result;

/// Months made ahead of the current one.
pub const MONTHS_AHEAD: u32 = 3;

fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn next_month(month: NaiveDate) -> NaiveDate {
    let (y, m) = if month.month() == 12 { (month.year() + 1, 1) } else { (month.year(), month.month() + 1) };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(month)
}

/// `events_y2026m11` for November 2026.
pub fn name(month: NaiveDate) -> String {
    format!("events_y{:04}m{:02}", month.year(), month.month())
}

/// The month a partition name stands for.
pub fn month_of(name: &str) -> Option<NaiveDate> {
    let rest = name.strip_prefix("events_y")?;
    let (year, month) = rest.split_once('m')?;
    NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, 1)
}

/// The months that must have a partition on `today`: from the month of the oldest
/// timestamp a client may send (7 days back) through `MONTHS_AHEAD` months ahead.
pub fn months_needed(today: NaiveDate) -> Vec<NaiveDate> {
    let mut month = month_start(today - Duration::days(super::types::MAX_AGE_DAYS));
    let last = (0..MONTHS_AHEAD).fold(month_start(today), |m, _| next_month(m));
    let mut months = Vec::new();
    while month <= last {
        months.push(month);
        month = next_month(month);
    }
    months
}

/// The partitions needed on `today`: (name, first day, first day of the next month).
pub fn needed(today: NaiveDate) -> Vec<(String, NaiveDate, NaiveDate)> {
    months_needed(today).into_iter().map(|month| (name(month), month, next_month(month))).collect()
}

/// Makes one partition through the migration's definer function (the application's role
/// has no DDL rights); a concurrent maker is fine.
pub const ENSURE: &str = "SELECT growstack_ensure_events_partition($1, $2, $3)";

/// Makes the partitions needed today; returns how many months are covered.
pub async fn ensure(conn: &Conn) -> Result<usize> {
    let needed = needed(Utc::now().date_naive());
    for (part, from, to) in &needed {
        conn.execute(ENSURE, &[part, from, to]).await?;
    }
    Ok(needed.len())
}

/// What retention did: the partitions dropped, and those past retention kept because the
/// archive export has not passed every event in them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    pub dropped: Vec<String>,
    pub kept_unexported: Vec<String>,
}

/// Drops the partitions whose whole month ended more than `retention_days` ago. With the
/// export on (`export` names its watermark), a partition holding an event the export has not
/// passed stays until it has: the archive is the only copy once the partition is gone.
pub async fn drop_expired(conn: &Conn, retention_days: i64, export: Option<&str>) -> Result<Dropped> {
    let cutoff = Utc::now().date_naive() - Duration::days(retention_days);
    let mark = match export {
        Some(name) => Some(super::repo::watermark(conn, name).await?),
        None => None,
    };
    let rows = conn
        .query(
            "SELECT c.relname::text AS relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'events'::regclass",
            &[],
        )
        .await?;
    let mut done = Dropped::default();
    for row in rows {
        let partition: String = row.get("relname");
        let Some(month) = month_of(&partition).filter(|month| next_month(*month) <= cutoff) else { continue };
        if let Some((tx, id)) = mark {
            let unexported: bool = conn
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM events WHERE occurred_at >= $1::date AND occurred_at < $2::date
                                                        AND (tx, id) > ($3, $4)) AS unexported",
                    &[&month, &next_month(month), &tx, &id],
                )
                .await?
                .get("unexported");
            if unexported {
                tracing::warn!(partition, "events partition past retention kept: the archive export has not passed it");
                done.kept_unexported.push(partition);
                continue;
            }
        }
        conn.execute("SELECT growstack_drop_events_partition($1)", &[&partition]).await?;
        tracing::info!(partition, "events partition past retention dropped");
        done.dropped.push(partition);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn months_cover_a_week_back_and_three_ahead() {
        let names = |d| months_needed(d).into_iter().map(name).collect::<Vec<_>>();
        assert_eq!(
            names(day(2026, 11, 29)),
            vec!["events_y2026m11", "events_y2026m12", "events_y2027m01", "events_y2027m02"]
        );
        assert_eq!(names(day(2026, 12, 3))[0], "events_y2026m11", "a week back is last month");
        assert_eq!(month_of("events_y2027m01"), Some(day(2027, 1, 1)));
        assert_eq!(month_of("events_default"), None);
        assert_eq!(needed(day(2026, 12, 31))[0], ("events_y2026m12".to_owned(), day(2026, 12, 1), day(2027, 1, 1)));
    }
}
