-- Binds the range that spend_logs_range.sql reads, for this session.
SELECT set_config('llmusage.extract_from', $1, false), set_config('llmusage.extract_until', $2, false)
