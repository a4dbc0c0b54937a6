-- The dashboard (`pgsecrets serve`): accounts, sessions, sign-in
-- throttling and restart acknowledgements. Every piece of its state lives
-- here, so any number of `serve` processes behind a load balancer share
-- it and none keeps anything of its own.

-- Accounts are created, re-passworded and removed by the schema's owner
-- (`pgsecrets user ...`): the runtime role may read them and disable or
-- enable one (store.GrantRuntime), so that the credentials applications
-- hold cannot mint a dashboard admin who would then read every value.
create table {{.schema}}.dashboard_accounts (
    id            bigint generated always as identity primary key,
    -- kept lower-case, so that one person has one account whatever the
    -- case they type
    email         text not null unique check (email <> '' and email = lower(email)),
    role          text not null check (role in ('viewer', 'editor', 'admin')),
    -- the projects the account may see and act on; empty: every project
    projects      text[] not null default '{}',
    -- argon2id in PHC string format; never the password
    password_hash text not null check (password_hash like '$argon2id$%'),
    disabled      boolean not null default false,
    created_at    timestamptz not null default now(),
    created_by    text not null,
    updated_at    timestamptz not null default now(),
    updated_by    text not null
);

-- A signed-in browser. The cookie holds a random token; only its
-- HMAC-SHA256, under a key derived from the root keys, is stored, so a
-- copy of this table signs nobody in and a row planted without a root key
-- matches no token. A session ends at expires_at, or after idle_timeout
-- without a request, whichever is first.
create table {{.schema}}.dashboard_sessions (
    token_hash   bytea primary key check (length(token_hash) = 32),
    account_id   bigint not null references {{.schema}}.dashboard_accounts (id) on delete cascade,
    created_at   timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    idle_timeout interval not null,
    expires_at   timestamptz not null,
    -- the address it was signed in from, for the account's own review
    address      text not null default ''
);

create index dashboard_sessions_account_idx on {{.schema}}.dashboard_sessions (account_id);
create index dashboard_sessions_expires_idx on {{.schema}}.dashboard_sessions (expires_at);

-- Sign-in attempts not (yet) proven good, per account name typed and per
-- client address, in fixed windows. An attempt counts before its password
-- is checked and is given back when it succeeds, so parallel guesses
-- cannot slip past the limit. Names that match no account are counted the
-- same way, so the limit reveals nothing about which accounts exist.
create table {{.schema}}.dashboard_signin_failures (
    scope        text not null check (scope in ('account', 'address')),
    key          text not null,
    window_start timestamptz not null,
    failures     int not null check (failures >= 0),
    primary key (scope, key)
);

create index dashboard_signin_failures_window_idx on {{.schema}}.dashboard_signin_failures (window_start);

-- The last time someone said a project's application was restarted (the
-- dashboard's button, `pgsecrets status --ack` in a deploy hook). A
-- restart is pending while a secret marked requires_restart changed after
-- it.
create table {{.schema}}.restart_acks (
    project  text primary key,
    acked_at timestamptz not null default now(),
    acked_by text not null
);

-- Deployments before this migration recorded no restart: take every
-- existing project as restarted now, rather than report every
-- restart-bound secret ever written as pending.
insert into {{.schema}}.restart_acks (project, acked_by)
select distinct project, 'migration' from {{.schema}}.secrets;

-- Which way the last write came: 'cli', 'terraform' or 'dashboard' ('' when
-- unknown). The dashboard warns before changing a secret Terraform manages,
-- whatever actor the provider was configured with.
alter table {{.schema}}.secrets add column updated_via text not null default '';
update {{.schema}}.secrets set updated_via = 'terraform' where updated_by like 'terraform:%';

-- The dashboard's audit page pages by seq within a project or an actor.
create index audit_events_project_seq_idx on {{.schema}}.audit_events (project, seq);
create index audit_events_actor_seq_idx on {{.schema}}.audit_events (actor, seq);
