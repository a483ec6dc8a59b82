-- The referral engine's two database roles (issue 16; docs/operations.md "Database roles").
--
--   referral_owner  owns the database, the schema and every table; `manage.py migrate` connects as it
--                   (DATABASE_OWNER_URL). Not a superuser.
--   referral_app    the web, the worker and beat (DATABASE_URL). Neither superuser nor owner: it reads
--                   and writes rows; the append-only audit tables give it SELECT and INSERT only; it
--                   cannot TRUNCATE, ALTER, DROP or CREATE, disable a trigger or change
--                   session_replication_role.
--
-- Run as a superuser (compose: the POSTGRES_USER of the postgres container, which is only for this
-- bootstrapping and for the backups), then `manage.py migrate` with DATABASE_OWNER_URL: migrate grants
-- referral_app its privileges table by table after every run.
--
--   psql -v ON_ERROR_STOP=1 -v database=referral_engine \
--        -v owner_password="$REFERRAL_OWNER_PASSWORD" -v app_password="$REFERRAL_APP_PASSWORD" \
--        -f deploy/postgres/roles.sql
--
-- Safe to run again (passwords are reset to the given ones). On a database that was migrated before the
-- roles existed it also hands every table, sequence, view and function of the schema to referral_owner.

\set ON_ERROR_STOP on

SELECT 'CREATE ROLE referral_owner LOGIN'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'referral_owner') \gexec
SELECT 'CREATE ROLE referral_app LOGIN'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'referral_app') \gexec

ALTER ROLE referral_owner LOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'owner_password';
ALTER ROLE referral_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT
    PASSWORD :'app_password';

ALTER DATABASE :"database" OWNER TO referral_owner;
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"database" TO referral_app;

\connect :"database"

-- PostgreSQL 15 gives the public schema to pg_database_owner (= referral_owner now); older clusters
-- gave it to the bootstrap superuser and let everybody CREATE in it.
ALTER SCHEMA public OWNER TO referral_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO referral_app;

-- A database migrated before the roles existed: its objects belong to the bootstrap superuser.
DO $$
DECLARE
    object record;
BEGIN
    FOR object IN
        SELECT c.relname AS name, c.relkind AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
           AND c.relowner <> 'referral_owner'::regrole
           -- identity and serial sequences follow their table
           AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
    LOOP
        EXECUTE format(
            CASE object.kind WHEN 'S' THEN 'ALTER SEQUENCE %I OWNER TO referral_owner'
                             WHEN 'v' THEN 'ALTER VIEW %I OWNER TO referral_owner'
                             WHEN 'm' THEN 'ALTER MATERIALIZED VIEW %I OWNER TO referral_owner'
                             ELSE 'ALTER TABLE %I OWNER TO referral_owner' END,
            object.name);
    END LOOP;
    FOR object IN
        SELECT p.oid::regprocedure::text AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public' AND p.proowner <> 'referral_owner'::regrole
    LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO referral_owner', object.name);
    END LOOP;
END
$$;

-- Tables and sequences referral_owner creates from now on (migrate narrows them to exactly what the app
-- needs: SELECT and INSERT only on the append-only tables, SELECT only on django_migrations).
ALTER DEFAULT PRIVILEGES FOR ROLE referral_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO referral_app;
ALTER DEFAULT PRIVILEGES FOR ROLE referral_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO referral_app;
