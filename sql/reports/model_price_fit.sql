-- Per model (the deployment a log names) over the logs of [$start, $end) that were billed (neither failed
-- nor cache hits, spend above 0): the sums of the normal equations of spend ~ a * prompt + b * completion,
-- from which `reports/prices.py` derives per-token prices where the model table has none (LiteLLM's
-- flavour: prices live in LiteLLM's cost map, not in its database).
SELECT
    model,
    count(*) AS logs,
    sum(CAST(prompt_tokens AS DOUBLE) * prompt_tokens) AS pp,
    sum(CAST(prompt_tokens AS DOUBLE) * completion_tokens) AS pc,
    sum(CAST(completion_tokens AS DOUBLE) * completion_tokens) AS cc,
    sum(prompt_tokens * spend) AS ps,
    sum(completion_tokens * spend) AS cs
FROM spend_lines
WHERE day >= $start AND day < $end AND NOT failed AND NOT cached AND spend > 0
GROUP BY model
