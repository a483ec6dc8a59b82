"""Search by any part of a name or a case number (issue 18, item 6): GIN indexes over n-gram arrays.

PostgreSQL only (SQLite, for `make run` and the tests, searches with LIKE and no index). Two immutable
SQL functions and two expression indexes:

- `re_ngrams(text, n)`: the distinct substrings of length n of a text;
- `re_name_grams(kana_key, name_key)`: the distinct bigrams of a person's two normalised name keys.
  Both bodies call only pg_catalog functions: pg_restore builds the indexes with an empty search_path;
- `person_name_grams_idx`: GIN over `re_name_grams(kana_key, name_key)` on persons;
- `case_number_grams_idx`: GIN over `re_ngrams(number, 3)` on cases.

Why not pg_trgm (docs/work.md, "Search"): a trigram index cannot answer a two-character query (トミ, 花子,
山田: most Japanese name parts), and what it makes of kana and kanji depends on the database's
LC_CTYPE (with the C locale multibyte characters are not word characters and are dropped). Bigrams
answer a two-character query with one index entry, whatever the locale, and need no extension.

The indexes are built CONCURRENTLY (persons and cases are large tables: docs/operations.md), so the
migration is not atomic.
"""

from django.db import migrations

FUNCTIONS = """
CREATE OR REPLACE FUNCTION re_ngrams(value text, n integer) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT ARRAY(SELECT DISTINCT substr(value, i, n) FROM generate_series(1, char_length(value) - n + 1) AS i) $$;

CREATE OR REPLACE FUNCTION re_name_grams(kana text, name text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ARRAY(
    SELECT DISTINCT substr(s, i, 2) FROM unnest(ARRAY[kana, name]) AS s, generate_series(1, char_length(s) - 1) AS i
) $$;
"""

# fastupdate off: with GIN's pending list on, every search reads the whole list (up to 4 MB) until a
# vacuum merges it. Measured on the 20,000-case bench database: 188 pending pages when the search was
# measured, 8-27 ms per index scan; 0.1 ms once merged (gin_clean_pending_list). An intake writes one
# person and one case: about 20 keys inserted directly is cheap.
INDEXES = [
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS person_name_grams_idx "
    "ON cases_person USING gin (re_name_grams(kana_key, name_key)) WITH (fastupdate = off)",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS case_number_grams_idx "
    "ON cases_case USING gin (re_ngrams(number, 3)) WITH (fastupdate = off)",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FUNCTIONS)
        for sql in INDEXES:
            cursor.execute(sql)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP INDEX CONCURRENTLY IF EXISTS person_name_grams_idx")
        cursor.execute("DROP INDEX CONCURRENTLY IF EXISTS case_number_grams_idx")
        cursor.execute("DROP FUNCTION IF EXISTS re_name_grams(text, text)")
        cursor.execute("DROP FUNCTION IF EXISTS re_ngrams(text, integer)")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("cases", "0007_watch_requests_and_evacuation_plans")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
