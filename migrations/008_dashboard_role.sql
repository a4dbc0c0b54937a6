-- The dashboard's state becomes the dashboard role's alone. Until now the
-- runtime role (what applications and Terraform hold) could write the
-- sessions table: re-point a viewer's session to an admin's account,
-- extend any session by years, and read password hashes. From here the
-- runtime role has no right on these tables; `pgsecrets serve` runs as a
-- dashboard role of its own (`pgsecrets migrate up --grant-dashboard ROLE`).

-- Every right granted on them to another role than the owner goes, table
-- and column rights alike; `migrate up --grant-dashboard ROLE` grants the
-- dashboard role what it needs.
do $$
declare
    r record;
begin
    for r in
        select distinct c.relname, g.rolname
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        cross join lateral (
            select acl.grantee from aclexplode(c.relacl) acl
            union
            select acl.grantee from pg_attribute at, aclexplode(at.attacl) acl
            where at.attrelid = c.oid and at.attnum > 0 and not at.attisdropped
        ) a
        join pg_roles g on g.oid = a.grantee
        where n.nspname = '{{.schema}}'
          and c.relname in ('dashboard_accounts', 'dashboard_sessions', 'dashboard_signin_failures')
          and a.grantee <> c.relowner
    loop
        execute format('revoke all on %I.%I from %I', '{{.schema}}', r.relname, r.rolname);
    end loop;
    revoke all on {{.schema}}.dashboard_accounts, {{.schema}}.dashboard_sessions, {{.schema}}.dashboard_signin_failures from public;
end
$$;

-- A session is sealed to its account, creation, expiry and idle timeout:
-- seal is an HMAC over them and the token's hash, under a key derived from
-- the root keys, so that a change to any of them by a writer of this table
-- makes the session invalid. Sessions made before the seal end here: their
-- browsers sign in again.
delete from {{.schema}}.dashboard_sessions;
alter table {{.schema}}.dashboard_sessions add column seal bytea not null check (length(seal) = 32);
