"""The plan-coordination bot: configuration, wiring, the plan and its importer."""
