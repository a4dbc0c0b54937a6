-- Whether applications must restart to pick up a change of a secret: set
-- from the catalog of well-known keys, or per secret. `pgsecrets status
-- --since` lists the secrets changed since a deploy that need one.
alter table {{.schema}}.secrets add column requires_restart boolean not null default false;

-- status --since scans recent changes only.
create index secrets_updated_at_idx on {{.schema}}.secrets (updated_at);
