-- Gives the key of a server name back where no server holds it. Before removals locked the rows of a name, two
-- removals at once of names that differ only in case could hand the key to a server being removed: the servers
-- left of that name (kept by V4 without a key) then had none. Enrolment's check still refused every spelling of
-- the name, but the unique index, which holds also when two enrolments check at once, no longer backed it, and
-- only the removal of another of them gave the key back. Here the first enrolled of each such name takes it, as V4 chose (by
-- enrolled_at, then agent_id); the others stay without one. A name whose key a server holds, and a database
-- without such names, are left as they are.
--
-- The holder is found by the key itself, so no row is given a key a row already holds, and the unique index
-- cannot fail. Only rows without a key are compared, which the index on the key finds. A name left without a
-- holder has no row with a key (every key is its own row's name in lower case), so the first enrolled row
-- without a key is the first enrolled of the name; and whether the database checks each row against the
-- table before or after the rows before it were changed, one row of each name is chosen.
UPDATE agents SET server_name_key = LOWER(server_name)
WHERE server_name_key IS NULL
  AND NOT EXISTS (SELECT 1 FROM agents holder WHERE holder.server_name_key = LOWER(agents.server_name))
  AND NOT EXISTS (
    SELECT 1 FROM agents earlier
    WHERE earlier.server_name_key IS NULL AND LOWER(earlier.server_name) = LOWER(agents.server_name)
      AND (earlier.enrolled_at < agents.enrolled_at
        OR (earlier.enrolled_at = agents.enrolled_at AND earlier.agent_id < agents.agent_id)));
