-- Dashboard sessions also end when idle: the last use, written at most once a minute. Sessions open
-- at the upgrade count as used now, so nobody is logged out by it and none lives longer than before.
ALTER TABLE dashboard_sessions ADD COLUMN last_used_at TIMESTAMP WITH TIME ZONE;
UPDATE dashboard_sessions SET last_used_at = CURRENT_TIMESTAMP;
ALTER TABLE dashboard_sessions ALTER COLUMN last_used_at SET NOT NULL;
