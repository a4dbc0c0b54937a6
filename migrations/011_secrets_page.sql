-- A listing of a project's secrets (the dashboard's Secrets page) reads a
-- page at a time in its order, by category with uncategorised last, then
-- by name (store.PageSecrets): this index holds that order, so a page
-- reads the project's keys from it up to the page, then the page's own
-- rows, rather than reading and sorting every secret of the project.
create index secrets_page_idx on {{.schema}}.secrets (project, (category = ''), category collate "C", name collate "C");

-- Every Secrets page asks which secrets changed since the last restart
-- among those that require one: few do, and without this index the
-- question reads every secret of every project.
create index secrets_restart_idx on {{.schema}}.secrets (project) where requires_restart;
