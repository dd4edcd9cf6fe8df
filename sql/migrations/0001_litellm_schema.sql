-- flavour: llmusage
-- The LiteLLM operational schema (shared/seed/schema.md), corrected into valid PostgreSQL:
-- tables in dependency order, the organization table the seed references but does not define,
-- and its MySQL-style inline indexes as CREATE INDEX. Column names and types are the seed's.

CREATE TABLE "LiteLLM_OrganizationTable" (
    "organization_id" TEXT PRIMARY KEY,
    "organization_alias" TEXT,
    "max_budget" DOUBLE PRECISION,
    "spend" DOUBLE PRECISION DEFAULT 0,
    "models" TEXT[],
    "metadata" JSONB DEFAULT '{}',
    "created_at" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE "LiteLLM_TeamTable" (
    "team_id" TEXT PRIMARY KEY,
    "team_alias" TEXT,
    "organization_id" TEXT,
    "admins" TEXT[],
    "members" TEXT[],
    "max_budget" DOUBLE PRECISION,
    "spend" DOUBLE PRECISION DEFAULT 0,
    "models" TEXT[],
    "blocked" BOOLEAN DEFAULT FALSE,
    "metadata" JSONB DEFAULT '{}',
    "created_at" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY ("organization_id") REFERENCES "LiteLLM_OrganizationTable"("organization_id")
);

CREATE TABLE "LiteLLM_UserTable" (
    "user_id" TEXT PRIMARY KEY,
    "user_email" TEXT UNIQUE,
    "user_role" TEXT CHECK ("user_role" IN ('admin', 'user', 'viewer')),
    "teams" TEXT[],
    "organization_id" TEXT,
    "max_budget" DOUBLE PRECISION,
    "spend" DOUBLE PRECISION DEFAULT 0,
    "user_metadata" JSONB DEFAULT '{}',
    "created_at" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY ("organization_id") REFERENCES "LiteLLM_OrganizationTable"("organization_id")
);

-- "token" is the SHA-256 hex digest of the sk- key, never the key itself.
-- "user_id" and "team_id" are nullable: a key may belong to a team only, a user only, or neither.
CREATE TABLE "LiteLLM_VerificationToken" (
    "token" TEXT PRIMARY KEY,
    "key_name" TEXT,
    "key_alias" TEXT,
    "user_id" TEXT,
    "team_id" TEXT,
    "permissions" JSONB,
    "spend" DOUBLE PRECISION DEFAULT 0,
    "max_budget" DOUBLE PRECISION,
    "models" TEXT[],
    "metadata" JSONB DEFAULT '{}',
    "created_at" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    "expires" TIMESTAMP,
    FOREIGN KEY ("user_id") REFERENCES "LiteLLM_UserTable"("user_id"),
    FOREIGN KEY ("team_id") REFERENCES "LiteLLM_TeamTable"("team_id")
);

CREATE TABLE "LiteLLM_ProxyModelTable" (
    "model_id" TEXT PRIMARY KEY,
    "model_name" TEXT NOT NULL,
    "litellm_params" JSONB NOT NULL,
    "model_info" JSONB DEFAULT '{}',
    "created_at" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    UNIQUE ("model_name")
);

-- One row per request. No foreign keys: a log outlives the key, user or team it names.
CREATE TABLE "LiteLLM_SpendLogs" (
    "request_id" TEXT PRIMARY KEY,
    "api_key" TEXT,
    "model" TEXT,
    "api_provider" TEXT,
    "total_tokens" INTEGER,
    "prompt_tokens" INTEGER,
    "completion_tokens" INTEGER,
    "spend" DOUBLE PRECISION,
    "user" TEXT,
    "team_id" TEXT,
    "metadata" JSONB DEFAULT '{}',
    "payload" JSONB,
    "created_at" TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX "idx_spendlogs_api_key" ON "LiteLLM_SpendLogs" ("api_key");
CREATE INDEX "idx_spendlogs_created_at" ON "LiteLLM_SpendLogs" ("created_at");
CREATE INDEX "idx_spendlogs_user" ON "LiteLLM_SpendLogs" ("user");
CREATE INDEX "idx_spendlogs_team_id" ON "LiteLLM_SpendLogs" ("team_id");
CREATE INDEX "idx_verificationtoken_user_id" ON "LiteLLM_VerificationToken" ("user_id");
CREATE INDEX "idx_verificationtoken_team_id" ON "LiteLLM_VerificationToken" ("team_id");
