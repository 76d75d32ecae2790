#!/usr/bin/env python3
"""GrowStack's monthly AWS cost, by the model in docs/cost.md: list prices (us-east-1,
on-demand, no free tier but where noted) times the usage the assumptions below give, for both
profiles of template.yaml, idle and at 10k, 100k and 1M monthly active users.

    python3 scripts/cost.py            # prints the tables docs/cost.md holds
    python3 scripts/cost.py --check    # fails when docs/cost.md's tables differ (scripts/test.sh)

Every number here is an assumption or a list price, named; change one and re-run.
"""

import sys
from pathlib import Path

HOURS = 730  # a month
SECONDS = HOURS * 3600

# List prices, USD (us-east-1, checked December 2026 against the AWS pricing pages).
PRICE = {
    "aurora_r6g_large_hour": 0.26,  # Aurora PostgreSQL Standard, db.r6g.large
    "aurora_acu_hour": 0.12,  # Aurora Serverless v2, Standard
    "aurora_storage_gb_month": 0.10,
    "aurora_io_million": 0.20,
    "proxy_vcpu_hour": 0.015,  # RDS Proxy on provisioned instances (2 vCPU per r6g.large)
    "cache_t4g_small_hour": 0.032,
    "cache_t4g_micro_hour": 0.016,
    "nat_hour": 0.045,
    "nat_gb": 0.045,
    "lambda_gb_second": 0.0000133334,  # arm64
    "lambda_million_requests": 0.20,
    "http_api_million_requests": 1.00,
    "secret_month": 0.40,
    "kms_key_month": 1.00,
    "alarm_metric_month": 0.10,
    "custom_metric_month": 0.30,
    "dashboard_month": 3.00,
    "logs_ingest_gb": 0.50,
    "ses_thousand": 0.10,
    "firehose_gb": 0.029,  # billed per record, rounded up to 5 KB
    "s3_gb_month": 0.023,
    "xray_million_traces": 5.00,
}

# Usage per monthly active user (MAU) per month: an app user who opens the app a few times a
# week. Assumptions, not measurements.
PER_MAU = {
    "requests": 600,  # API calls, events batches included
    "events": 300,  # tracked events (server and client), sent in batches
    "emails": 4,
    "sign_ins": 2,  # Argon2id at 1,024 MB
}
EVENT_BYTES = 400  # one archived JSON line
EVENT_ROW_BYTES = 1000  # in Postgres, indexes included
EVENTS_RETENTION_MONTHS = 13  # EVENTS_RETENTION_DAYS = 400
REQUEST_MS, REQUEST_GB = 25, 0.25  # a mean request: billed duration, memory
SIGN_IN_MS, SIGN_IN_GB = 120, 1.0
EMAIL_MS = 60  # the email worker, per mail, 256 MB
SCHEDULER_RUNS = 2 * 43200 + 8640 + 2880 + 5 * 30  # the schedules in template.yaml
SCHEDULER_MS = 200
LOG_BYTES_PER_REQUEST = 1000  # our JSON line and Lambda's report line
XRAY_SAMPLED = 0.05  # Lambda's rate beyond the first trace a second (Tracing=Active)
PEAK_TO_MEAN = 1.5  # the ACU a day's shape needs on average, over the mean load's
REQUESTS_PER_ACU_SECOND = 40  # our mix of indexed reads and small writes, per ACU
# CloudWatch: alarm metrics (the per-domain alarms read one metric per function; ~25
# single-metric alarms besides) and the EMF metrics that exist once there is traffic (per
# route and status class, cold starts per function, and the rest).
ALARM_METRICS = 2 * 60 + 25
EMF_METRICS = 110 + 60 + 40

PROFILES = {
    # template.yaml's Profile=production: 2 x db.r6g.large behind RDS Proxy, 2 cache nodes.
    "production": {"database": "provisioned", "cache_nodes": 2, "cache": "cache_t4g_small_hour", "proxy": True},
    # Profile=small: Serverless v2 from 0.5 ACU, no reader, no proxy, one micro cache node.
    "small": {"database": "serverless", "min_acu": 0.5, "cache_nodes": 1, "cache": "cache_t4g_micro_hour", "proxy": False},
}
USERS = [0, 10_000, 100_000, 1_000_000]


def costs(profile, mau):
    p, c = PROFILES[profile], {}
    requests = mau * PER_MAU["requests"]
    events = mau * PER_MAU["events"]
    if p["database"] == "provisioned":
        c["database"] = 2 * PRICE["aurora_r6g_large_hour"] * HOURS
    else:
        mean_rps = requests / SECONDS
        acu = max(p["min_acu"], PEAK_TO_MEAN * mean_rps / REQUESTS_PER_ACU_SECOND)
        c["database"] = acu * PRICE["aurora_acu_hour"] * HOURS
    stored_gb = events * EVENTS_RETENTION_MONTHS * EVENT_ROW_BYTES / 1e9 + 1
    c["database"] += stored_gb * PRICE["aurora_storage_gb_month"] + requests / 1e6 * PRICE["aurora_io_million"]
    c["rds proxy"] = 4 * PRICE["proxy_vcpu_hour"] * HOURS if p["proxy"] else 0
    c["cache"] = p["cache_nodes"] * PRICE[p["cache"]] * HOURS
    archive_gb = events * EVENT_BYTES / 1e9
    c["nat"] = PRICE["nat_hour"] * HOURS + (archive_gb + mau * PER_MAU["emails"] * 20e3 / 1e9) * PRICE["nat_gb"]
    gb_seconds = (
        requests * REQUEST_MS / 1000 * REQUEST_GB
        + mau * PER_MAU["sign_ins"] * SIGN_IN_MS / 1000 * SIGN_IN_GB
        + mau * PER_MAU["emails"] * EMAIL_MS / 1000 * 0.25
        + SCHEDULER_RUNS * SCHEDULER_MS / 1000 * 0.25
    )
    invocations = requests + mau * PER_MAU["emails"] * 2 + SCHEDULER_RUNS
    c["lambda"] = gb_seconds * PRICE["lambda_gb_second"] + invocations / 1e6 * PRICE["lambda_million_requests"]
    c["api gateway"] = requests / 1e6 * PRICE["http_api_million_requests"]
    c["secrets, keys"] = 7 * PRICE["secret_month"] + 2 * PRICE["kms_key_month"]
    c["cloudwatch"] = (
        ALARM_METRICS * PRICE["alarm_metric_month"]
        + PRICE["dashboard_month"]
        + (EMF_METRICS * PRICE["custom_metric_month"] if mau else 0)
        + requests * LOG_BYTES_PER_REQUEST / 1e9 * PRICE["logs_ingest_gb"]
    )
    c["x-ray"] = requests * XRAY_SAMPLED / 1e6 * PRICE["xray_million_traces"]
    c["ses"] = mau * PER_MAU["emails"] / 1000 * PRICE["ses_thousand"]
    # Packed records (many events to one, ~1,000 KiB): billed by the bytes.
    c["firehose, s3"] = archive_gb * PRICE["firehose_gb"] + archive_gb * EVENTS_RETENTION_MONTHS * 0.2 * PRICE["s3_gb_month"]
    return c


def table(profile):
    rows = {}
    for mau in USERS:
        for item, usd in costs(profile, mau).items():
            rows.setdefault(item, []).append(usd)
    head = "| " + profile + " | idle | 10k MAU | 100k MAU | 1M MAU |\n|---|---:|---:|---:|---:|\n"
    body = "".join(f"| {item} | " + " | ".join(f"{usd:,.0f}" for usd in values) + " |\n" for item, values in rows.items())
    totals = [sum(costs(profile, mau).values()) for mau in USERS]
    return head + body + "| **total** | " + " | ".join(f"**{t:,.0f}**" for t in totals) + " |\n"


def tables():
    return "\n".join(table(profile) for profile in PROFILES)


if __name__ == "__main__":
    generated = tables()
    if "--check" in sys.argv:
        doc = (Path(__file__).resolve().parent.parent / "docs" / "cost.md").read_text(encoding="utf-8")
        begin, end = "<!-- BEGIN GENERATED cost -->\n", "<!-- END GENERATED cost -->"
        committed = doc.split(begin, 1)[1].split(end, 1)[0] if begin in doc else ""
        if committed != generated:
            sys.exit("docs/cost.md's tables are not what scripts/cost.py computes: run it and paste its output")
        print("docs/cost.md's tables are what scripts/cost.py computes")
    else:
        print(generated, end="")
