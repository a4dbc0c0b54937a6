-- Secrets, data keys, provider defaults and the append-only audit chain.

create table {{.schema}}.secrets (
    project     text not null,
    name        text not null,
    -- compact JWE; its protected header names kid and the row binding
    ciphertext  text not null,
    kid         text not null,
    -- false for a ciphertext written without a row binding (another tool)
    bound       boolean not null,
    description text not null default '',
    category    text not null default '',
    revision    bigint not null default 1 check (revision > 0),
    created_at  timestamptz not null default now(),
    created_by  text not null,
    updated_at  timestamptz not null default now(),
    updated_by  text not null,
    primary key (project, name)
);

-- reencrypt and `keys status` find rows by key.
create index secrets_kid_idx on {{.schema}}.secrets (kid);

create table {{.schema}}.encryption_keys (
    kid          text primary key,
    alg          text not null,
    enc          text not null,
    state        text not null check (state in ('primary', 'active', 'disabled')),
    -- the data key's JWK as a JWE under a root key, bound to this kid
    wrapped_key  text not null,
    wrapping_kid text not null,
    revision     bigint not null default 1 check (revision > 0),
    created_at   timestamptz not null default now(),
    created_by   text not null,
    updated_at   timestamptz not null default now(),
    updated_by   text not null
);

-- At most one primary data key.
create unique index encryption_keys_one_primary on {{.schema}}.encryption_keys (state) where state = 'primary';

create table {{.schema}}.provider_defaults (
    project    text not null,
    use_case   text not null check (use_case in ('chat', 'code', 'summary')),
    provider   text not null,
    model      text not null,
    updated_at timestamptz not null default now(),
    updated_by text not null,
    primary key (project, use_case)
);

create table {{.schema}}.audit_events (
    seq      bigint primary key,
    at       timestamptz not null,
    actor    text not null,
    -- set by the trigger below from session_user: a client cannot claim it
    db_role  text not null,
    action   text not null,
    project  text not null default '',
    -- secret name or key id
    subject  text not null default '',
    -- JSON object kept as text, so the MAC covers exactly the stored bytes
    details  text not null default '{}',
    -- root key the chain MAC key was derived from
    mac_kid  text not null,
    prev_mac text not null,
    mac      text not null
);

create index audit_events_at_idx on {{.schema}}.audit_events (at);

-- The newest event, kept by the insert trigger; a row lock on it orders
-- concurrent writers into one chain.
create table {{.schema}}.audit_head (
    singleton boolean primary key default true check (singleton),
    seq       bigint not null,
    mac       text not null
);
insert into {{.schema}}.audit_head (singleton, seq, mac) values (true, 0, '');

create function {{.schema}}.audit_events_before_insert() returns trigger
language plpgsql set search_path = {{.schema}}, pg_catalog as $$
declare
    head record;
begin
    select seq, mac into head from audit_head for update;
    if new.seq <> head.seq + 1 or new.prev_mac <> head.mac then
        raise exception 'audit event % does not follow the chain head % (lost a race for audit_head?)', new.seq, head.seq
            using errcode = 'serialization_failure';
    end if;
    new.db_role := session_user;
    if new.at <> now() then
        raise exception 'audit event time must be the transaction time';
    end if;
    update audit_head set seq = new.seq, mac = new.mac;
    return new;
end
$$;

create trigger audit_events_chain before insert on {{.schema}}.audit_events
    for each row execute function {{.schema}}.audit_events_before_insert();

create function {{.schema}}.audit_events_refuse_change() returns trigger
language plpgsql as $$
begin
    raise exception 'audit events are append-only: % refused', tg_op
        using errcode = 'insufficient_privilege';
end
$$;

create trigger audit_events_append_only before update or delete on {{.schema}}.audit_events
    for each row execute function {{.schema}}.audit_events_refuse_change();

create trigger audit_events_no_truncate before truncate on {{.schema}}.audit_events
    for each statement execute function {{.schema}}.audit_events_refuse_change();
