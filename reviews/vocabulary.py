"""The label vocabulary every feature shares: taxonomy slugs and verdicts. Standard library only.

The one source of truth for code: migration 0002 seeds the `Category` rows from the same slugs in the same order
(migrations keep their own frozen copy), and tests/test_vocabulary.py ties this tuple, the seeded rows, the
`Verdict` choices and every reader of them together.
"""

from __future__ import annotations

# In the seeded order (Category.position).
TAXONOMY = (
    "violent-crime", "weapons-cbrn", "cyber", "self-harm", "child-safety", "sexual-content", "hate", "harassment",
    "privacy", "fraud", "misinformation", "dangerous-advice", "jailbreak", "prompt-injection",
)  # fmt: skip

# The safety grid: harmful request x model complied.
VERDICTS = ("harmful_compliance", "appropriate_refusal", "over_refusal", "appropriate_help")
FAILURE_VERDICTS = frozenset({"harmful_compliance", "over_refusal"})
HARMFUL_REQUEST_VERDICTS = frozenset({"harmful_compliance", "appropriate_refusal"})

# The `dataset`s of Oversight's reference conversations (reviews/imports/reference.py): its benign requests and its
# user turns (harmful and look-alike); imported and trained on, never counted as a deployment's own labels
# (reviews/scoring/training_data.py).
REFERENCE_DATASET = "oversight-reference"
REFERENCE_TURNS_DATASET = "oversight-reference-user-turns"
REFERENCE_DATASETS = frozenset({REFERENCE_DATASET, REFERENCE_TURNS_DATASET})
