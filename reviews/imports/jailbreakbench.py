"""JailbreakBench: harmful and benign behaviours, and attack artifacts with the target model's replies.

`jbb-behaviors` (harmful-behaviors.csv / benign-behaviors.csv): one user turn = `goal`. harmful is decided by the
  file name ("harmful" or "benign" in it). Categories come from the fine `behavior` column where it names a harm
  the coarse `category` misfiles (`_JBB_BEHAVIOR_CATEGORIES`, e.g. Bomb building -> weapons-cbrn, Eating disorder
  -> self-harm, Child pornography -> child-safety, Phishing -> fraud + privacy), else from `category`:
  Harassment/Discrimination -> harassment, Malware/Hacking -> cyber, Physical harm -> violent-crime, Economic harm
  -> fraud, Fraud/Deception -> fraud, Disinformation -> misinformation, Sexual/Adult content -> sexual-content,
  Privacy -> privacy, Expert advice -> dangerous-advice, Government decision-making -> fraud (mostly forgery,
  shell companies, tampering). Benign rows get no categories (their topic stays in metadata).
  Id `jbb:harmful:<index>` / `jbb:benign:<index>` (twins share the index).
`jbb-artifacts` (jbb_attack_artifacts_dev.jsonl): user = attack prompt, assistant = target model response; rows
  with a null or empty prompt or response are skipped. harmful True (every JBB artifact goal is a harmful goal);
  verdict = harmful_compliance if `jailbroken` (the JailbreakBench judge) else appropriate_refusal; categories as
  jbb-behaviors plus jailbreak; model = target_model; metadata keeps method, attack_type and the goal's index.
  The judge label is automated, not human; it is what the set offers. Id `jbb-artifact:<method>:<model>:<index>`.
  Counts (dev file): 800 rows, all with prompt and response; 224 harmful_compliance, 576 appropriate_refusal.
Targets: behaviours: request_harmful by file, categories ([] for benign). Artifacts: request_harmful 1,
  harmful_response = jailbroken, complied 1 where jailbroken and masked otherwise ("not jailbroken" also covers
  replies that went along harmlessly: about one in seven of them does not refuse), categories.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from reviews.imports.base import (
    ImportFormatError,
    LabeledConversation,
    csv_rows,
    json_lines,
    label_targets,
    labeled,
    payload,
    provenance,
    require_keys,
    turn,
    verdict_for,
)
from reviews.imports.keywords import keyword_categories

JBB_BEHAVIOR_COLUMNS = ("index", "goal", "category")
JBB_ARTIFACT_FIELDS = ("method", "target_model", "index", "category", "prompt", "response", "jailbroken")
JBB_CATEGORIES = {
    "Harassment/Discrimination": {"harassment"},
    "Malware/Hacking": {"cyber"},
    "Physical harm": {"violent-crime"},
    "Economic harm": {"fraud"},
    "Fraud/Deception": {"fraud"},
    "Disinformation": {"misinformation"},
    "Sexual/Adult content": {"sexual-content"},
    "Privacy": {"privacy"},
    "Expert advice": {"dangerous-advice"},
    "Government decision-making": {"fraud"},
}
# The fine `behavior` names where the coarse category misfiles the harm (keys compared case- and space-folded).
_JBB_BEHAVIOR_CATEGORIES = {
    # Harassment/Discrimination
    "defamation": {"harassment", "misinformation"},
    "xenophobia": {"hate"},
    "ableism": {"hate"},
    "sexism": {"hate", "harassment"},
    "racial discrimination": {"hate", "harassment"},
    "ageism": {"hate"},
    "enslavement": {"hate", "violent-crime"},
    "holocaust glorification": {"hate"},
    "sex discrimination": {"hate", "harassment"},
    # Malware/Hacking
    "exam cheating": {"fraud"},
    "biological weapons": {"cyber", "weapons-cbrn"},
    # Physical harm
    "bomb building": {"weapons-cbrn"},
    "school shooting": {"violent-crime", "weapons-cbrn"},
    "ingesting detergent": {"dangerous-advice"},
    "eating disorder": {"self-harm"},
    "suicide": {"self-harm"},
    "ethnic genocide": {"hate", "violent-crime"},
    "predatory stalking": {"harassment"},
    # Economic harm
    "gambling": {"dangerous-advice"},
    "payday loans": {"dangerous-advice"},
    "insider betting": {"dangerous-advice"},
    # Fraud/Deception
    "election influencing": {"cyber"},
    "pseudo-pharmaceuticals": {"fraud", "dangerous-advice"},
    "deepfakes": {"fraud", "harassment"},
    "illegal dumping": {"dangerous-advice"},
    # Disinformation
    "holocaust denial": {"misinformation", "hate"},
    # Sexual/Adult content
    "sexual solicitation": {"child-safety"},
    "unprotected sex": {"sexual-content", "dangerous-advice"},
    "date rape drug": {"violent-crime"},
    "child pornography": {"child-safety"},
    "sexting": {"sexual-content", "harassment"},
    "human trafficking": {"violent-crime", "sexual-content"},
    "revenge porn": {"sexual-content", "harassment", "privacy"},
    "pedophilia": {"child-safety"},
    # Privacy
    "identity theft": {"privacy", "fraud"},
    "blackmail": {"privacy", "harassment"},
    "facial recognition": {"privacy", "hate"},
    "tax scam": {"fraud", "privacy"},
    "steal health records": {"privacy", "cyber"},
    "phishing": {"fraud", "privacy"},
    "steal government information": {"privacy", "cyber"},
    "email scam": {"fraud", "privacy"},
    "steal debit cards": {"fraud"},
    # Expert advice
    "opiods prescription": {"dangerous-advice", "fraud"},
    "emissions test evasion": {"fraud"},
    # Government decision-making
    "change criminal record": {"fraud", "cyber"},
    "nuclear weapons": {"weapons-cbrn"},
    "child labor": {"violent-crime"},
    "election tampering": {"fraud", "cyber"},
    "vigilante justice": {"violent-crime"},
}


def _jbb_categories(category: str, behavior: str, goal: str) -> set[str]:
    fine = _JBB_BEHAVIOR_CATEGORIES.get(" ".join(behavior.lower().split()))
    if fine is not None:
        return set(fine)
    coarse = JBB_CATEGORIES.get(category.strip())
    if coarse is not None:
        return set(coarse)
    return keyword_categories(goal)  # a category this version of JBB does not have


def _jbb_kind(path: Path) -> str:
    name = path.name.lower()
    kinds = [kind for kind in ("harmful", "benign") if kind in name]
    if len(kinds) != 1:
        raise ImportFormatError(
            f"{path.name}: jbb-behaviors needs 'harmful' or 'benign' in the file name to know the label "
            "(harmful-behaviors.csv / benign-behaviors.csv)"
        )
    return kinds[0]


def read_jbb_behaviors(path: Path) -> Iterator[LabeledConversation]:
    fmt = "jbb-behaviors"
    kind = _jbb_kind(path)
    harmful = kind == "harmful"
    for _line, row in csv_rows(path, fmt, JBB_BEHAVIOR_COLUMNS):
        behavior = row.get("behavior", "")
        categories = _jbb_categories(row["category"], behavior, row["goal"]) if harmful else set()
        meta = provenance(
            "jailbreakbench",
            path,
            jbb_index=row["index"],
            jbb_category=row["category"],
            behavior=behavior,
            origin=row.get("source", ""),
        )
        conv = payload(f"jbb:{kind}:{row['index']}", [turn("user", row["goal"])], meta)
        targets = label_targets(request_harmful=harmful, categories=categories)
        yield labeled(conv, None, harmful, categories, targets=targets)


def read_jbb_artifacts(path: Path) -> Iterator[LabeledConversation]:
    fmt = "jbb-artifacts"
    for line, record in json_lines(path, fmt):
        require_keys(record, JBB_ARTIFACT_FIELDS, f"{path.name} line {line}", fmt)
        prompt, response = record["prompt"], record["response"]
        if not isinstance(prompt, str) or not isinstance(response, str) or not prompt.strip() or not response.strip():
            continue
        jailbroken = record["jailbroken"]
        if not isinstance(jailbroken, bool):
            raise ImportFormatError(f"{path.name} line {line}: jailbroken is {jailbroken!r}, not true/false")
        goal, behavior = str(record.get("goal") or ""), str(record.get("behavior") or "")
        categories = _jbb_categories(str(record["category"]), behavior, goal) | {"jailbreak"}
        model, method = str(record["target_model"]), str(record["method"])
        meta = provenance(
            "jailbreakbench",
            path,
            method=method,
            attack_type=str(record.get("attack_type") or ""),
            jbb_index=record["index"],
            jbb_category=str(record["category"]),
            behavior=behavior,
            goal=goal,
        )
        messages = [turn("user", prompt), turn("assistant", response)]
        conv = payload(f"jbb-artifact:{method}:{model}:{record['index']}", messages, meta, model=model)
        targets = label_targets(
            request_harmful=True,
            harmful_response=jailbroken,
            complied=1 if jailbroken else None,  # "not jailbroken" also covers harmless compliance
            categories=categories,
        )
        yield labeled(conv, verdict_for(True, jailbroken), True, categories, targets=targets)
