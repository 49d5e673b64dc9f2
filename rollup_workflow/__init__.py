"""Cloud rollups: the steps of the rollups state machine (plan, rollup, commit); see rollup_workflow.handler."""
