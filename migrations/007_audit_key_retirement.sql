-- A write whose transaction began before `pgsecrets reencrypt` retired its
-- audit key, and that reached the chain head only after the retirement
-- committed, must see the retirement. audit_lock_head read the key's state
-- in the same statement that waited for the head, so in the snapshot taken
-- before the wait: it now locks the head first and reads the key's state
-- in a statement of its own, after the lock is granted.
create or replace function {{.schema}}.audit_lock_head(audit_kid text)
returns table (seq bigint, mac text, at timestamptz, db_role text, key_last_seq bigint)
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp as $$
begin
    perform 1 from {{.schema}}.audit_head h for update;
    return query
        select h.seq, h.mac, now(), session_user::text,
               (select k.last_seq from {{.schema}}.audit_keys k where k.kid = audit_kid)
        from {{.schema}}.audit_head h;
end
$$;
revoke all on function {{.schema}}.audit_lock_head(text) from public;

-- And the chain itself refuses an event keyed by an audit key past the
-- last event that key may key: whatever a process believes about its key,
-- the chain never takes an event that `audit verify` would reject.
create or replace function {{.schema}}.audit_events_before_insert() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp as $$
declare
    head record;
    retired_after bigint;
begin
    select h.seq, h.mac into head from {{.schema}}.audit_head h for update;
    if new.seq <> head.seq + 1 or new.prev_mac <> head.mac then
        raise exception 'audit event % does not follow the chain head % (lost a race for audit_head?)', new.seq, head.seq
            using errcode = 'serialization_failure';
    end if;
    select k.last_seq into retired_after from {{.schema}}.audit_keys k where k.kid = new.mac_kid;
    if retired_after is not null and retired_after <> 0 and new.seq > retired_after then
        raise exception 'audit event % is keyed by audit key %, which was retired after event %', new.seq, new.mac_kid, retired_after
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
