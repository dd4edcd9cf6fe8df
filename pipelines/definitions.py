"""The one `Definitions` object that `workspace.yaml` loads; assets arrive with the lake and later issues."""

import dagster as dg

defs = dg.Definitions(assets=[])
