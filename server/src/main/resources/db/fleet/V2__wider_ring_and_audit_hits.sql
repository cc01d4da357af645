-- Two columns narrower than what the API accepts, so that valid input failed as a database error (503):
-- a server's ring is its `ring` label, which may be 200 characters; and a report's audit-hit counters,
-- stored as JSON, take up to 100 names of 100 characters, each `"` or `\` doubled by escaping, with
-- counts of up to 19 digits (22,401 characters at most).
ALTER TABLE agents ALTER COLUMN ring SET DATA TYPE VARCHAR(200);
ALTER TABLE agent_mitigations ALTER COLUMN audit_hits SET DATA TYPE VARCHAR(32000);
