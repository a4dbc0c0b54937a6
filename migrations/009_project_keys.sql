-- A data key per project. Each project's secrets and their history are
-- encrypted under its own key, made on the project's first write and
-- wrapped under the first root key; rotating the root rewraps these keys
-- and touches no secret, and shredding a project deletes its keys with its
-- secrets.

create table {{.schema}}.project_keys (
    kid          text primary key,
    project      text not null,
    -- primary encrypts the project's new values; retired keys only decrypt
    -- what is still under them until reencrypt moves it
    state        text not null check (state in ('primary', 'retired')),
    alg          text not null,
    enc          text not null,
    -- the key's JWK as a JWE under a root key, bound to project, kid, state
    -- and revision: a row moved to another project, or a retired key made
    -- primary in the database, does not unwrap
    wrapped_key  text not null,
    wrapping_kid text not null,
    revision     bigint not null default 1 check (revision > 0),
    created_at   timestamptz not null default now(),
    created_by   text not null,
    updated_at   timestamptz not null default now(),
    updated_by   text not null
);

-- At most one primary key per project; two first writers of a project meet
-- here, and the second uses the first's key.
create unique index project_keys_one_primary on {{.schema}}.project_keys (project) where state = 'primary';
create index project_keys_project_idx on {{.schema}}.project_keys (project, created_at);

-- What reencrypt has left to do is found by kid (secrets_kid_idx and
-- secret_versions_kid_idx, read one distinct kid at a time) and by these
-- small indexes of unbound rows, never by reading every secret: a root
-- rotation then costs what the project keys cost, whatever the number of
-- secrets.
create index secrets_unbound_idx on {{.schema}}.secrets (kid) where not bound;
create index secret_versions_unbound_idx on {{.schema}}.secret_versions (kid) where not bound;

-- When this store's writes moved to project keys. A store that holds
-- secrets or data keys from before keeps writing as it did (under the
-- primary data key, else the first root key) until `pgsecrets reencrypt`
-- moves it: the first run sets this, then moves every secret under its
-- project's key. A new, empty store uses project keys from its first write.
-- (The deployment row is append-only, hence a table of its own.)
create table {{.schema}}.key_scheme (
    singleton          boolean primary key default true check (singleton),
    project_keys_since timestamptz
);
insert into {{.schema}}.key_scheme (project_keys_since)
select case when exists (select 1 from {{.schema}}.secrets)
              or exists (select 1 from {{.schema}}.secret_versions)
              or exists (select 1 from {{.schema}}.encryption_keys)
            then null else now() end;

-- The move is one way: setting it back (to send new values under a root key
-- or a global data key again, the blast radius project keys remove) is
-- refused to every role but the owner, who can drop the trigger.
create function {{.schema}}.key_scheme_one_way() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp as $$
begin
    if tg_op = 'DELETE' or (old.project_keys_since is not null and new.project_keys_since is distinct from old.project_keys_since) then
        raise exception 'this store is on project keys: that cannot be undone' using errcode = '42501';
    end if;
    return new;
end
$$;
create trigger key_scheme_one_way before update or delete on {{.schema}}.key_scheme
for each row execute function {{.schema}}.key_scheme_one_way();
