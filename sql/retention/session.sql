-- Retention's deleting session: give up rather than queue behind another lock for long (a gateway's
-- writes must never wait on retention), and bound each batch's statement.
SELECT set_config('lock_timeout', %(lock_timeout)s, false), set_config('statement_timeout', %(statement_timeout)s, false)
