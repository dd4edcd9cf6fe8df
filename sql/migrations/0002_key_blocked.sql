-- flavour: llmusage
-- Keys can be blocked, as in LiteLLM itself; the proxy refuses a blocked key (403).
ALTER TABLE "LiteLLM_VerificationToken" ADD COLUMN "blocked" BOOLEAN DEFAULT FALSE;
