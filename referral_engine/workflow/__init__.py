"""The workflow package: the one registry of department workflows (`registry`), its system checks
(`checks`, registered by `apps.WorkflowConfig.ready`) and the state diagrams (`diagrams`).

Department modules (`workflows/`) declare themselves with the names exported here; the core asks
`registry` for a referral's workflow and runs stage transitions inside `as_workflow`. This package
imports no other app of the engine at module level: the policy and the services sit above it.
"""

from referral_engine.workflow.registry import (
    Stage,
    StageRecordForm,
    StageTimer,
    Workflow,
    as_workflow,
    labels,
    register,
)

__all__ = ["Stage", "StageRecordForm", "StageTimer", "Workflow", "as_workflow", "labels", "register"]
