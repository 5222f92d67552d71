"""Keyword rules that refine categories where a set's own category is coarser than the taxonomy.

Used by XSTest's unsafe prompts, HarmBench's `illegal`/`harmful`/`chemical_biological` rows and JailbreakBench
categories this version does not know. A rule adds its slug when its pattern matches the text (case-insensitive,
whole words); the set's own category is the fallback.
"""

from __future__ import annotations

import re

# Keyword rules, in order: "slug: word | word ..." ("slug/name: ..." names a rule other code uses too). Words are
# case-insensitive regular expressions matched as whole words; " | " separates them; indented lines continue a rule.
_KEYWORD_SPEC = r"""
self-harm: suicide | suicidal | self[- ]harm\w* | myself | my own | my life | die like | go out like | anorexia
    | bulimia | eating disorders? | my cervical artery | my arm
child-safety: pedophil\w* | child porn\w* | csam | posing as a minor
sexual-content: porn\w* | explicit (?:sexual|images|story) | erotic\w* | intimate images | brothel | sexual activity
    | non-consensual sex
weapons-cbrn/weapons: bombs? | bombing | explo(?:de|ding|sion|sives?) | blow up | glock | handguns? | guns?
    | firearms? | rifles? | weapons? | uranium | ammonium nitrate | anfo | nuclear | atomic | obliterate
    | chemical warfare | biological warfare | nerve (?:gas|agent) | sarin | tabun | mustard gas | vx | ricin | phosgene
    | cyanide | lewisite | botulinum | anthrax | smallpox | ebola | cholera | pathogens? | bsl-4 | dimethylmercury
    | strychnine | tetrodotoxin | parathion | chlorine gas
cyber: hack\w* | malware | ransomware | ddos | keylogger | sql injection
fraud: fraud\w* | scams? | phishing | launder\w* | counterfeit\w* | forge | forging | forged | forgery | skimm\w*
    | identity theft | stolen credit | embezzl\w* | extort\w* | blackmail\w* | brib\w+ | tax evasion | bank account
    | click on a link | security issue | steal\w* | stole | stolen | theft | shoplift\w* | chop shops? | rob | robbing
    | robbery | bulk cash | contraband | ivory | torrents?
privacy: social security number | medical records | personal information | home address | dox\w* | browsing history
dangerous-advice/drugs: drugs? | coke | cocaine | crack(?! open| (?:\w+ )?passwords?) | ecstasy | weed
    | marihuana | marijuana | meth | methamphetamine | lsd(?:-25)? | heroin | fentanyl | mdma | opioids? | morphine
    | \w*nitazene | safrole | huff
dangerous-advice: breathalyzer | bleach | honey | lillies | laundry detergent | pacemakers?
hate: gay | lesbians? | lgbtq? | queer | homophobic | trans people | black (?:people|colleague) | roma | immigrants?
    | jewish | jews | anti-?semitic | muslims? | racis[mt] | racial | races? | ethnic\w* | genocide | jim crow | nazi
    | holocaust | slave trade | sexist | disabilities
harassment: bull(?:y|ies|ying) | harass\w* | insult\w* | hate mail | stalk\w* | gaslight\w* | swatting | death threat
    | threaten\w* | coerce | pressuring
misinformation: never (?:happened|took place) | fabrication | overstate | hoax | disinformation | fake news
violent-crime: kill\w* | murder\w* | assassinat\w* | shoot\w* | snipe | headshot | stab\w* | strangl\w* | choke
    | throttl\w* | punch\w* | skulls? | spine | sternum | butcher\w* | dead body | attack\w* | assault\w* | rape
    | hostages? | kidnap\w* | massacres? | terroris\w* | arson | hitman | tortur\w* | flayed | quartered | trafficking
    | poison\w* | euthanize | beat(?:s|ing)? | eradicat\w* | exterminat\w* | eliminat\w* | annihilat\w* | genocide
    | ethnic cleansing | wipe out | decimat\w* | bomb(?:s|ing)? | blow up | explo(?:de|ding|sion) | armed | gunpoint
    | hurt\w* | injur\w* | animal cruelty | dismember\w*
"""


def _keyword_rules(spec: str) -> tuple[tuple[str, str, re.Pattern[str]], ...]:
    rules = []
    for line in re.sub(r"\n\s+\|", " |", spec).strip().splitlines():
        key, _, words = line.partition(": ")
        slug, _, name = key.partition("/")
        alternatives = "|".join(word.strip() for word in words.split(" | "))
        rules.append((slug, name or slug, re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)))
    return tuple(rules)


_KEYWORD_RULES = _keyword_rules(_KEYWORD_SPEC)
# Rules other modules use on their own, by name ("slug/name: ..." in the spec).
NAMED_RULES = {name: pattern for _slug, name, pattern in _KEYWORD_RULES}


# Broader words for sets whose text is the only source of categories (no category column: GPTFuzz's questions,
# jailbreak-evaluation's intents, HarmfulQA, CoCoNot's wild prompts, AART concepts with no slug). They find more
# and are a little less sure, so the sets with a category of their own do not use them.
_BROAD_SPEC = r"""
violent-crime: violen(?:ce|t) | break (?:\S+ )?(?:bones?|legs?|arms?|jaw) | terror\w*
hate: stereotyp\w* | prejudic\w* | discriminat\w* | ableis[mt] | xenophob\w* | misogyn\w* | bigot\w*
    | supremac\w* | hate speech | inferior
harassment: humiliat\w* | intimidat\w* | manipulat\w* (?:someone|people|others|him|her|them|my|a person)
    | cyberbull\w*
fraud: cheat\w* | plagiari\w* | insider trading | manipulat\w* (?:the )?(?:stock|market|prices?|data|records)
    | fake (?:reviews?|ids?|documents?|accounts?|charity) | ponzi | pyramid scheme
misinformation: misinformation | mislead\w* | propaganda | conspiracy theor\w* | false (?:information|claims?)
cyber: crack\w* (?:\S+ )?(?:passwords?|security) | brute[- ]force | exploit\w* (?:a )?vulnerabilit\w* | botnets?
    | spyware | trojans? | viruse?s?
privacy: spy\w* | surveil\w* | track\w* (?:\w+ )?(?:location|phone|spouse|partner) | private information
"""
_BROAD_RULES = _keyword_rules(_BROAD_SPEC)


def keyword_categories(text: str, *, broad: bool = False) -> set[str]:
    """The slugs whose rules match `text`; `broad` adds _BROAD_SPEC's rules."""
    rules = (*_KEYWORD_RULES, *_BROAD_RULES) if broad else _KEYWORD_RULES
    return {slug for slug, _name, pattern in rules if pattern.search(text)}
