"""llmusage: spend accounting for LLM gateways built on the LiteLLM schema.

The package is the library; the CLI (`llmusage.cli`) and the Dagster code location (`pipelines`)
are thin layers over it. Importing it is cheap: heavy modules are imported where they are used.
"""

__version__ = "0.1.0"
