"""The person's name keys on the case row, for the case-list search at scale (issue 18, item 6).

The list search (cases.search) joined every listed case to its person to compare the names: at a
million cases, either way it went — the persons' ids from their name index, then their cases; or the
list walked in its order — each case row cost a second random read, of its person (docs/benchmarks.md,
"Issue 23, second round, and issue 18's search at 1M"). With the two keys on the case, the walk reads
the case rows only, and a bigram GIN index on the case (`case_name_grams_idx`, the expression of
`person_name_grams_idx`) finds the cases of a name part directly.

The copies are the database's to write, on PostgreSQL and SQLite alike, so that no writer (intake, a
slip's person, a merge, a person's edit, the load generator's COPY, the admin) can leave them stale:

- on a case's insert, and an update of its person or of the copies themselves, they are read from the
  person (PostgreSQL: BEFORE, so the row is written once; SQLite: AFTER, as it has no BEFORE that may
  change NEW);
- on an update of a person's keys, that person's cases get the new keys.

Existing cases are filled in from their persons. Expand-only (docs/operations.md): the columns have a
database default, so the previous release's inserts, which name neither, still work (and the trigger
fills them). The index is built CONCURRENTLY (a large table:
docs/operations.md), so the migration is not atomic.
"""

from django.db import migrations, models

from referral_engine.migration_operations import DatabaseTriggers

POSTGRES_TRIGGERS = """
CREATE OR REPLACE FUNCTION re_case_person_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT p.kana_key, p.name_key INTO NEW.person_kana_key, NEW.person_name_key
      FROM cases_person AS p WHERE p.id = NEW.person_id;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION re_person_keys_to_cases() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cases_case SET person_kana_key = NEW.kana_key, person_name_key = NEW.name_key
     WHERE person_id = NEW.id;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS case_person_keys ON cases_case;
CREATE TRIGGER case_person_keys
    BEFORE INSERT OR UPDATE OF person_id, person_kana_key, person_name_key ON cases_case
    FOR EACH ROW EXECUTE FUNCTION re_case_person_keys();

DROP TRIGGER IF EXISTS person_keys_to_cases ON cases_person;
CREATE TRIGGER person_keys_to_cases
    AFTER UPDATE OF kana_key, name_key ON cases_person
    FOR EACH ROW WHEN (OLD.kana_key IS DISTINCT FROM NEW.kana_key OR OLD.name_key IS DISTINCT FROM NEW.name_key)
    EXECUTE FUNCTION re_person_keys_to_cases();
"""

POSTGRES_DROP = """
DROP TRIGGER IF EXISTS case_person_keys ON cases_case;
DROP TRIGGER IF EXISTS person_keys_to_cases ON cases_person;
DROP FUNCTION IF EXISTS re_case_person_keys();
DROP FUNCTION IF EXISTS re_person_keys_to_cases();
"""

# SQLite: no recursive triggers (its default), so the UPDATE inside case_person_keys_update does not
# fire itself again.
_SQLITE_FILL = """
    UPDATE cases_case
       SET person_kana_key = (SELECT kana_key FROM cases_person WHERE id = NEW.person_id),
           person_name_key = (SELECT name_key FROM cases_person WHERE id = NEW.person_id)
     WHERE id = NEW.id;
"""
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS case_person_keys_insert AFTER INSERT ON cases_case BEGIN {_SQLITE_FILL} END",
    "CREATE TRIGGER IF NOT EXISTS case_person_keys_update "
    f"AFTER UPDATE OF person_id, person_kana_key, person_name_key ON cases_case BEGIN {_SQLITE_FILL} END",
    "CREATE TRIGGER IF NOT EXISTS person_keys_to_cases AFTER UPDATE OF kana_key, name_key ON cases_person "
    "BEGIN UPDATE cases_case SET person_kana_key = NEW.kana_key, person_name_key = NEW.name_key "
    "WHERE person_id = NEW.id; END",
]
SQLITE_DROP = ["case_person_keys_insert", "case_person_keys_update", "person_keys_to_cases"]

FILL = """
UPDATE cases_case
   SET person_kana_key = (SELECT p.kana_key FROM cases_person AS p WHERE p.id = cases_case.person_id),
       person_name_key = (SELECT p.name_key FROM cases_person AS p WHERE p.id = cases_case.person_id)
"""

# As person_name_grams_idx (cases/0008): fastupdate off, so that a search never reads a pending list.
INDEX = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS case_name_grams_idx "
    "ON cases_case USING gin (re_name_grams(person_kana_key, person_name_key)) WITH (fastupdate = off)"
)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("cases", "0008_h18s_search_grams")]

    operations = [
        migrations.AddField(
            model_name="case",
            name="person_kana_key",
            field=models.CharField(blank=True, db_default="", default="", editable=False, max_length=200),
        ),
        migrations.AddField(
            model_name="case",
            name="person_name_key",
            field=models.CharField(blank=True, db_default="", default="", editable=False, max_length=200),
        ),
        DatabaseTriggers(
            label="cases/0009",
            postgres=POSTGRES_TRIGGERS,
            sqlite=SQLITE_TRIGGERS,
            fill=FILL,
            postgres_after=[INDEX],
            postgres_drop=["DROP INDEX CONCURRENTLY IF EXISTS case_name_grams_idx", POSTGRES_DROP],
            sqlite_drop=SQLITE_DROP,
        ),
    ]
