-- How many secrets each project has. The dashboard's Secrets page shows a
-- project's count with every page; counting the rows reads every secret
-- of the project, a cost that grows with the project and is paid on every
-- page.
create table {{.schema}}.secret_counts (
    project text primary key,
    secrets bigint not null
);
revoke all on {{.schema}}.secret_counts from public;

-- Each statement that adds or removes secrets logs how many, per project,
-- in secret_count_changes, which takes no lock another writer waits on;
-- at commit a deferred constraint trigger folds the transaction's changes
-- into the counts, once per transaction however many statements and rows
-- it holds.
--
-- Why at commit: every change of secrets appends its audit event before
-- it commits, and so holds the chain head by then. The count is thus
-- locked after the head, whichever order the change took its row and the
-- head in (a write locks the head first, a delete its row). Taking the
-- count as the rows change would lock it between the two, in a different
-- order on each way, and a create and a delete in one project could
-- deadlock. Why once: a row trigger deferred to commit would update the
-- count once per row, and each update of one row in one transaction walks
-- the versions the transaction left before it: a shred of 100,000 secrets
-- would take minutes.
--
-- The functions run as the owner, with a fixed search_path so that no
-- object of the caller's can stand in for ours: the roles that write
-- secrets need no right on the counts or the changes, and so cannot set
-- one.
create table {{.schema}}.secret_count_changes (
    tx bigint not null default txid_current(),
    project text not null,
    change bigint not null
);
create index secret_count_changes_tx_idx on {{.schema}}.secret_count_changes (tx);
revoke all on {{.schema}}.secret_count_changes from public;

-- One function for both statements: each trigger names its transition
-- table "changed", the rows added or the rows removed.
create function {{.schema}}.secret_counts_logged() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp as $$
begin
    insert into {{.schema}}.secret_count_changes (project, change)
    select project, case when tg_op = 'INSERT' then count(*) else -count(*) end from changed group by project;
    return null;
end
$$;
revoke all on function {{.schema}}.secret_counts_logged() from public;

-- pgsecrets never moves a secret to another project; whoever does by hand
-- moves its count along.
create function {{.schema}}.secret_counts_moved() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp as $$
begin
    insert into {{.schema}}.secret_count_changes (project, change) values (old.project, -1), (new.project, 1);
    return null;
end
$$;
revoke all on function {{.schema}}.secret_counts_moved() from public;

-- The first change of a transaction to reach commit folds them all; the
-- others find nothing left.
create function {{.schema}}.secret_counts_fold() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp as $$
begin
    with done as (
        delete from {{.schema}}.secret_count_changes where tx = txid_current() returning project, change
    )
    insert into {{.schema}}.secret_counts as c (project, secrets)
    select project, sum(change) from done group by project
    on conflict (project) do update set secrets = c.secrets + excluded.secrets;
    return null;
end
$$;
revoke all on function {{.schema}}.secret_counts_fold() from public;

create function {{.schema}}.secret_counts_clear() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp as $$
begin
    delete from {{.schema}}.secret_counts;
    delete from {{.schema}}.secret_count_changes where tx = txid_current();
    return null;
end
$$;
revoke all on function {{.schema}}.secret_counts_clear() from public;

create trigger secret_counts_insert after insert on {{.schema}}.secrets
    referencing new table as changed for each statement execute function {{.schema}}.secret_counts_logged();
create trigger secret_counts_delete after delete on {{.schema}}.secrets
    referencing old table as changed for each statement execute function {{.schema}}.secret_counts_logged();
-- Row by row, and only when a project changes: an update that keeps the
-- project (every write, every re-encryption) costs nothing more.
create trigger secret_counts_move after update of project on {{.schema}}.secrets
    for each row when (old.project is distinct from new.project) execute function {{.schema}}.secret_counts_moved();
create trigger secret_counts_truncate after truncate on {{.schema}}.secrets
    for each statement execute function {{.schema}}.secret_counts_clear();
create constraint trigger secret_counts_fold after insert on {{.schema}}.secret_count_changes
    deferrable initially deferred for each row execute function {{.schema}}.secret_counts_fold();

-- The triggers exist before the count is taken, and creating them waits
-- for the writers of secrets and holds off new ones until the migration
-- commits: the count starts exact.
insert into {{.schema}}.secret_counts (project, secrets)
select project, count(*) from {{.schema}}.secrets group by project;

-- The dashboard reads the counts. Its role, the one that holds rights on
-- the sessions table, may read them from this migration on, as
-- `migrate up --grant-dashboard ROLE` grants them from now; no other role
-- gains anything.
do $$
declare
    r record;
begin
    for r in
        select distinct g.rolname
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        cross join lateral aclexplode(c.relacl) a
        join pg_roles g on g.oid = a.grantee
        where n.nspname = '{{.schema}}' and c.relname = 'dashboard_sessions' and a.grantee <> c.relowner
    loop
        execute format('grant select on %I.secret_counts to %I', '{{.schema}}', r.rolname);
    end loop;
end
$$;
