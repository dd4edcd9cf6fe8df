-- Dimension snapshot: every row and column of LiteLLM_VerificationToken.
SELECT * FROM "LiteLLM_VerificationToken"
