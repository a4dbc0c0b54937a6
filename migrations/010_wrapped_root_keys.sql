-- Root keys held by a key service (a KMS, an HSM) derive nothing: the
-- dashboard's session key of such a root comes from a random seed kept
-- here, wrapped under that root when it is registered. Only a process that
-- may call the service opens it; the planner role cannot read the column.
alter table {{.schema}}.root_keys add column sessions_seed text;
