-- Trust against a database writer: a deployment identity, a registry of
-- root keys, audit chain keys kept wrapped in the database, and functions
-- that run as the schema's owner so that a runtime role needs no rights on
-- what it must not touch.

-- The deployment's identity, made once. Audit MACs, audit key wrappings and
-- root key check values are bound to it, so a chain copied from another
-- deployment with the same root key does not verify here.
create table {{.schema}}.deployment (
    singleton  boolean primary key default true check (singleton),
    id         text not null default gen_random_uuid()::text,
    created_at timestamptz not null default now()
);
insert into {{.schema}}.deployment default values;

-- Root keys the database knows: kid and a key check value (a salted one-way
-- digest), never the material. A write under a root key that is not here,
-- or whose check value differs, is refused.
create table {{.schema}}.root_keys (
    kid           text primary key,
    check_value   text not null,
    registered_at timestamptz not null default now(),
    registered_by text not null
);

-- Keys of the audit chain MAC, each wrapped under a root key and rewrapped
-- by reencrypt like data keys, so verification outlives root key
-- retirement. Scheme 1 keys are those the first release derived from a
-- root key (kid = that root key's kid); scheme 2 keys are random. last_seq
-- is 0 while a key keys new events, else the last event it may key; the
-- wrapping binds it, so it cannot be reopened.
create table {{.schema}}.audit_keys (
    kid          text primary key,
    scheme       int not null check (scheme in (1, 2)),
    wrapped_key  text not null,
    wrapping_kid text not null,
    last_seq     bigint not null default 0 check (last_seq >= 0),
    created_at   timestamptz not null default now(),
    created_by   text not null
);

-- One open audit key per root key: concurrent processes agree on it.
create unique index audit_keys_one_open on {{.schema}}.audit_keys (wrapping_kid) where last_seq = 0 and scheme = 2;

-- `bound` now means bound to the row and its revision. Ciphertexts written
-- before carry the row alone: reencrypt gives them the full binding.
update {{.schema}}.secrets set bound = false where bound;
comment on column {{.schema}}.secrets.bound is
    'a hint for reencrypt: true when written bound to its row and revision; the ciphertext itself is authoritative';

-- The protected header of a compact JWE, or null when it cannot be read.
-- Lets `keys status` judge bindings from the ciphertexts themselves rather
-- than from columns a database writer could set.
create function {{.schema}}.ciphertext_header(token text) returns jsonb
language plpgsql immutable strict parallel safe
set search_path = pg_catalog, pg_temp as $$
declare
    h text := split_part(token, '.', 1);
begin
    return convert_from(decode(translate(h, '-_', '+/') || repeat('=', (4 - length(h) % 4) % 4), 'base64'), 'UTF8')::jsonb;
exception when others then
    return null;
end
$$;

-- Locks the chain head for an append and returns it with the transaction
-- time, the database role, and whether the appender's audit key is still
-- open. It runs as the owner: the runtime role has no rights on
-- audit_head, so it can neither read it for update nor move it.
create function {{.schema}}.audit_lock_head(audit_kid text)
returns table (seq bigint, mac text, at timestamptz, db_role text, key_last_seq bigint)
language sql security definer
set search_path = pg_catalog, pg_temp as $$
    select h.seq, h.mac, now(), session_user::text,
           (select k.last_seq from {{.schema}}.audit_keys k where k.kid = audit_kid)
    from {{.schema}}.audit_head h
    for update of h
$$;
revoke all on function {{.schema}}.audit_lock_head(text) from public;

-- The chain trigger moves audit_head as the owner, with a fixed search_path
-- so that no object of the caller's can stand in for ours.
create or replace function {{.schema}}.audit_events_before_insert() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp as $$
declare
    head record;
begin
    select h.seq, h.mac into head from {{.schema}}.audit_head h for update;
    if new.seq <> head.seq + 1 or new.prev_mac <> head.mac then
        raise exception 'audit event % does not follow the chain head % (lost a race for audit_head?)', new.seq, head.seq
            using errcode = 'serialization_failure';
    end if;
    new.db_role := session_user;
    if new.at <> now() then
        raise exception 'audit event time must be the transaction time';
    end if;
    update {{.schema}}.audit_head set seq = new.seq, mac = new.mac;
    return new;
end
$$;
revoke all on function {{.schema}}.audit_events_before_insert() from public;

create or replace function {{.schema}}.audit_events_refuse_change() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp as $$
begin
    raise exception '% rows are append-only: % refused', tg_table_name, tg_op
        using errcode = 'insufficient_privilege';
end
$$;

create trigger deployment_append_only before update or delete on {{.schema}}.deployment
    for each row execute function {{.schema}}.audit_events_refuse_change();
create trigger root_keys_append_only before update or delete on {{.schema}}.root_keys
    for each row execute function {{.schema}}.audit_events_refuse_change();
create trigger audit_head_no_delete before delete on {{.schema}}.audit_head
    for each row execute function {{.schema}}.audit_events_refuse_change();
