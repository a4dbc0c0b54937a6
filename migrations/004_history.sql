-- Secret history: every write keeps the value it replaces, and a delete
-- keeps the last value for a while, so a mistaken write or delete can be
-- undone.

-- The write that made the current revision, carried into its version when
-- it is replaced: create, update, rollback or undelete.
alter table {{.schema}}.secrets add column last_action text not null default 'update';

-- Previous values, each still the ciphertext written for its revision:
-- bound to its secret and revision, so a version never opens as another
-- secret's or another revision's. Rows are immutable but for reencrypt.
create table {{.schema}}.secret_versions (
    project          text not null,
    name             text not null,
    revision         bigint not null check (revision > 0),
    ciphertext       text not null,
    kid              text not null,
    -- a hint for reencrypt, as in secrets: the ciphertext is authoritative
    bound            boolean not null,
    description      text not null default '',
    category         text not null default '',
    requires_restart boolean not null default false,
    -- the write that made this revision, who made it, when
    action           text not null,
    written_at       timestamptz not null,
    written_by       text not null,
    -- when it stopped being current, and whether by a delete (then it is
    -- the value an undelete brings back)
    replaced_at      timestamptz not null default now(),
    deleted          boolean not null default false,
    primary key (project, name, revision)
);

create index secret_versions_kid_idx on {{.schema}}.secret_versions (kid);
create index secret_versions_replaced_idx on {{.schema}}.secret_versions (replaced_at);

-- Retention of versions, per project ('' for the default of every
-- project): how many versions each secret keeps, how long a version is
-- kept, and how long a deleted secret can be brought back. Null: no limit.
create table {{.schema}}.history_retention (
    project      text primary key,
    keep         int check (keep is null or keep >= 0),
    max_age      interval,
    deleted_for  interval,
    updated_at   timestamptz not null default now(),
    updated_by   text not null
);
insert into {{.schema}}.history_retention (project, keep, max_age, deleted_for, updated_by)
values ('', null, null, interval '30 days', 'migration');
