-- Dimension snapshot of a LiteLLM database's model deployments: `model_name` is the public name (not
-- unique: several deployments share it); `litellm_params` is left out (its strings are encrypted with
-- LiteLLM's salt key and hold provider credentials).
SELECT model_id, model_name, CAST(model_info AS text) AS model_info, created_at, updated_at
FROM "LiteLLM_ProxyModelTable"
