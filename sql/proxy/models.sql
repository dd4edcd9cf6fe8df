-- The model catalog the proxy routes by.
SELECT model_id, model_name, litellm_params, COALESCE(model_info, '{}'::jsonb)
FROM "LiteLLM_ProxyModelTable"
ORDER BY model_name
