-- Key usage without ciphertext access: `keys status` counts, per kid, the
-- ciphertexts of secrets and of their versions, and how many of them are
-- unbound, bound to their row only, or name another kid than their row.
-- Those counts come from the ciphertexts' headers, which a planner role
-- (column-level SELECT on metadata only) may not read; this function runs
-- as the owner and returns the counts alone, never a ciphertext.
create function {{.schema}}.key_usage()
returns table (kid text, secrets bigint, versions bigint, unbound bigint, row_only bigint, inconsistent bigint)
language sql stable security definer
set search_path = pg_catalog, pg_temp as $$
    select x.kid,
           count(*) filter (where x.current),
           count(*) filter (where not x.current),
           count(*) filter (where x.h ->> 'pgsecrets_bind' is null),
           count(*) filter (where position('#' in x.h ->> 'pgsecrets_bind') = 0),
           count(*) filter (where x.h is null or x.h ->> 'kid' is distinct from x.kid)
    from (
        select s.kid, true as current, {{.schema}}.ciphertext_header(s.ciphertext) as h from {{.schema}}.secrets s
        union all
        select v.kid, false, {{.schema}}.ciphertext_header(v.ciphertext) from {{.schema}}.secret_versions v
    ) as x
    group by x.kid
$$;
revoke all on function {{.schema}}.key_usage() from public;
