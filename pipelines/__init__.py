"""The Dagster code location for llmusage: thin assets, checks, jobs, schedules and sensors over the library."""
