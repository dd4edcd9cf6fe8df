-- POST /model/new: add a model (or replace the one with the same model_name).
INSERT INTO "LiteLLM_ProxyModelTable" (model_id, model_name, litellm_params, model_info)
VALUES (%(model_id)s, %(model_name)s, %(litellm_params)s, %(model_info)s)
ON CONFLICT (model_name) DO UPDATE
SET litellm_params = EXCLUDED.litellm_params, model_info = EXCLUDED.model_info, updated_at = CURRENT_TIMESTAMP
RETURNING model_id, model_name, litellm_params, model_info, created_at
