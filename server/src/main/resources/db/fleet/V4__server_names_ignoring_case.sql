-- Server names are unique ignoring case: web1 and WEB1 would be two rows an operator takes for one server,
-- and a policy set on one would silently miss the other. server_name_key is the name in lower case (names
-- are ASCII letters, digits, '.', '_' and '-', so SQL's LOWER and Java's toLowerCase(Locale.ROOT) agree),
-- written by the server at enrolment; its unique index holds also when two server processes enrol at once.
--
-- A database may already hold names that differ only in case. The upgrade must not fail on it (the server
-- would not start, in an emergency) nor remove a server: the first enrolled of each such group takes the key,
-- the others keep none (NULL, which a unique index allows any number of times). They stay enrolled and
-- working; no new spelling of the name can enrol; the server warns about them at every start until an admin
-- removes all but one. When the holder of the key is removed, the server hands it to the next one.
ALTER TABLE agents ADD COLUMN server_name_key VARCHAR(253);
UPDATE agents SET server_name_key = LOWER(server_name) WHERE NOT EXISTS (
  SELECT 1 FROM agents earlier
  WHERE LOWER(earlier.server_name) = LOWER(agents.server_name)
    AND (earlier.enrolled_at < agents.enrolled_at
      OR (earlier.enrolled_at = agents.enrolled_at AND earlier.agent_id < agents.agent_id)));
CREATE UNIQUE INDEX agents_server_name_key_unique ON agents (server_name_key);
