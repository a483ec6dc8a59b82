"""My work's setbacks as a stored flag (issue 23 item 7: `/` at a million cases).

`cases.work.setbacks` was "declined or returned, on an open case, and no event of an acting kind on the
case since the referral's last change": an anti-join over the case's events for every declined or
returned referral of every open case the user is concerned with (1.0 s of the 1.4 s of `/` for a
caseworker at a million cases, docs/benchmarks.md). `Referral.setback_open` holds the answer, with a
partial index (`referral_setback_open_idx`).

The database writes it, on PostgreSQL and SQLite alike, so that no writer can forget it and no round trip
is added to a transition or a note:

- a referral that enters declined or returned gets it set; one that stays there keeps what it had,
  whatever a save writes (a full save of a stale instance cannot set it again); any other state clears it
  (PostgreSQL: BEFORE INSERT OR UPDATE OF state; SQLite: AFTER, with OLD's value);
- an event of an acting kind (`ACTED_KINDS`, as `cases.work.ACTED_KINDS`: a test holds them equal)
  clears it on every referral of its case.

Existing referrals are computed from the old definition (`FILL`). The index is built CONCURRENTLY (a
large table: docs/operations.md), so the migration is not atomic. Expand-only: the column has a database
default, and the previous release, which never reads it, writes through the same triggers.
"""

from django.db import migrations, models
from django.db.models import Q

from referral_engine.migration_operations import AddIndexConcurrentlyOnPostgres, DatabaseTriggers

SETBACK_STATES = ("declined", "returned")
ACTED_KINDS = ("referral_requested", "case_transition", "activity", "lead_changed", "referral_assigned")

_STATES = ", ".join(f"'{s}'" for s in SETBACK_STATES)
_KINDS = ", ".join(f"'{k}'" for k in ACTED_KINDS)

POSTGRES_TRIGGERS = f"""
CREATE OR REPLACE FUNCTION re_referral_setback() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IN ({_STATES}) THEN
        IF TG_OP = 'INSERT' OR OLD.state NOT IN ({_STATES}) THEN
            NEW.setback_open := true;
        ELSE
            NEW.setback_open := OLD.setback_open;
        END IF;
    ELSE
        NEW.setback_open := false;
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION re_setback_acted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cases_referral SET setback_open = false WHERE case_id = NEW.case_id AND setback_open;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS referral_setback ON cases_referral;
CREATE TRIGGER referral_setback
    BEFORE INSERT OR UPDATE OF state ON cases_referral
    FOR EACH ROW EXECUTE FUNCTION re_referral_setback();

DROP TRIGGER IF EXISTS caseevent_setback_acted ON cases_caseevent;
CREATE TRIGGER caseevent_setback_acted
    AFTER INSERT ON cases_caseevent
    FOR EACH ROW WHEN (NEW.kind IN ({_KINDS}))
    EXECUTE FUNCTION re_setback_acted();
"""

POSTGRES_DROP = """
DROP TRIGGER IF EXISTS referral_setback ON cases_referral;
DROP TRIGGER IF EXISTS caseevent_setback_acted ON cases_caseevent;
DROP FUNCTION IF EXISTS re_referral_setback();
DROP FUNCTION IF EXISTS re_setback_acted();
"""

# SQLite: no BEFORE trigger may change NEW; the AFTER triggers' own UPDATEs do not fire them again (no
# recursive triggers, its default), and they set only setback_open, not state.
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS referral_setback_insert AFTER INSERT ON cases_referral "
    f"WHEN NEW.state IN ({_STATES}) BEGIN UPDATE cases_referral SET setback_open = 1 WHERE id = NEW.id; END",
    f"CREATE TRIGGER IF NOT EXISTS referral_setback_update AFTER UPDATE OF state ON cases_referral BEGIN "
    f"UPDATE cases_referral SET setback_open = CASE WHEN NEW.state IN ({_STATES}) "
    f"THEN CASE WHEN OLD.state IN ({_STATES}) THEN OLD.setback_open ELSE 1 END ELSE 0 END "
    f"WHERE id = NEW.id; END",
    f"CREATE TRIGGER IF NOT EXISTS caseevent_setback_acted AFTER INSERT ON cases_caseevent "
    f"WHEN NEW.kind IN ({_KINDS}) BEGIN "
    f"UPDATE cases_referral SET setback_open = 0 WHERE case_id = NEW.case_id AND setback_open; END",
]
SQLITE_DROP = ["referral_setback_insert", "referral_setback_update", "caseevent_setback_acted"]

# The old definition, for the referrals there are (bench/loadgen runs the same after a load).
FILL = f"""
UPDATE cases_referral SET setback_open = NOT EXISTS (
    SELECT 1 FROM cases_caseevent AS e
     WHERE e.case_id = cases_referral.case_id AND e.kind IN ({_KINDS}) AND e.created_at > cases_referral.updated_at
) WHERE state IN ({_STATES})
"""


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("cases", "0009_case_person_name_keys")]

    operations = [
        migrations.AddField(
            model_name="referral",
            name="setback_open",
            field=models.BooleanField(db_default=False, default=False, editable=False),
        ),
        DatabaseTriggers(
            label="cases/0010",
            postgres=POSTGRES_TRIGGERS,
            sqlite=SQLITE_TRIGGERS,
            fill=FILL,
            # The planner must know the flag is rare before the first `/` (it walked 208,268 open cases
            # at a million until autovacuum's analyze came round: 0.7 s).
            postgres_after=["ANALYZE cases_referral"],
            postgres_drop=[POSTGRES_DROP],
            sqlite_drop=SQLITE_DROP,
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="referral",
            index=models.Index(
                condition=Q(("setback_open", True)),
                fields=["-updated_at", "-id"],
                name="referral_setback_open_idx",
            ),
        ),
    ]
