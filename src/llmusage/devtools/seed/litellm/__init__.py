"""A LiteLLM-flavour database filled as LiteLLM 1.110 fills it, with the budget verdicts it must yield.

`seed_litellm(conn, now=..., scale=...)` writes organizations, teams, users, keys, end users, tags, team
memberships, budget rows, spend logs and the daily spend tables through plain SQL, row for row as LiteLLM's
own writers leave them, and returns a `LitellmScenario`: the as-of instant, one `Verdict` per budgeted
entity and the causes by which the daily tables and the counters differ from the surviving logs.

Modules: `periods` (how LiteLLM anchors and resets budget periods), `cast`/`roster` (who is there),
`traffic` (the cases' demand, admitted as LiteLLM admits it), `background` (bulk traffic), `rows` (spend
log rows as `get_logging_payload` writes them), `accounting` (counters, daily tables, retention),
`verdicts`, `load` (the SQL).
"""

from llmusage.devtools.seed.litellm.scenario import DEFAULT_LOGS, LitellmScenario, seed_litellm
from llmusage.devtools.seed.litellm.verdicts import Verdict

__all__ = ["DEFAULT_LOGS", "LitellmScenario", "Verdict", "seed_litellm"]
