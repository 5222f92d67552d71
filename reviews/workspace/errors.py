"""Why the workspace refuses a reviewer's action: one hierarchy, each message written for the reviewer.

Views catch `ClaimConflict` first (409: the reviewer holds no live claim on the item, nothing was recorded), then
the action's own error or any `WorkspaceError` (422: the form says why).
"""


class WorkspaceError(ValueError):
    """A reviewer's action was refused; `str(error)` tells them why."""


class ClaimConflict(WorkspaceError):
    """The reviewer does not hold the item under a live lease (never claimed it, someone else holds it, or the
    lease ran out), or its hard-limit daily cap forbids it; nothing was recorded."""


class DecisionError(WorkspaceError):
    """The decision, or the edit of one, cannot be recorded as given."""


class SkipError(WorkspaceError):
    """The item cannot be skipped as asked."""


class EscalationError(WorkspaceError):
    """The item cannot be escalated."""


class RevealError(WorkspaceError):
    """There is no such message to reveal."""


class UndoError(WorkspaceError):
    """The decision can no longer be undone (edit it instead, or it is not the reviewer's to undo)."""
