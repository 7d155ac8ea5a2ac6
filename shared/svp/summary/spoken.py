"""What a spoken sentence does: greets, signs off, introduces the video, or tells a step.

Without an LLM the page is built from the post's own words; these rules sort a transcript's
sentences so that a "steps" property gets the instructions in order, not the whole transcript
with "Hi everyone" and "enjoy your dinner", and the summary can say what the video is about.
English only: other languages keep their transcript as it was heard.
"""

from __future__ import annotations

import re

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

# A greeting opening a sentence ("Hi everyone,", "Welcome back to my channel."): removed.
GREETING = re.compile(
    r"^(?:(?:hi|hello|hey|hiya|howdy|yo|welcome(?: back)?|good (?:morning|evening|afternoon)|"
    r"what'?s up|and)\b(?: (?:there|again|everyone|everybody|guys|folks|friends|all|y'?all|"
    r"to (?:my|the|our) (?:channel|kitchen|page)|back|it'?s me))*[\s,!.:;-]*)+",
    re.I,
)
# A sentence that only closes the video: dropped from steps and summary.
SIGN_OFF = re.compile(
    r"^(?:and |so |now )?(?:enjoy|bon app[eé]tit|thanks?|thank you|see you|bye|"
    r"(?:don'?t forget to )?(?:like|follow|subscribe|comment|share|save)\b.*"
    r"(?:more|channel|video|post|later|comments?|friends?|recipe|this)|"
    r"let me know|that'?s (?:it|all)|happy (?:cooking|eating|travels?))\b",
    re.I,
)
# A sentence that says what the video is ("today we make ...", "this is my ...").
INTRO = re.compile(
    r"^(?:so,? |ok(?:ay)?,? )?(?:today|in this video|this is|here'?s|here is|this (?:recipe|"
    r"video|place)|let me show you|i'?m (?:going to|gonna) show|we'?re (?:making|going)|"
    r"i'?m making|let'?s make)\b",
    re.I,
)
# Sequence words before a step ("First,", "Then", "Now"): removed from the step.
SEQUENCE = re.compile(
    r"^(?:(?:and|so|now|then|next|first(?:ly)?|second(?:ly)?|third|after that|afterwards|"
    r"finally|lastly|last|once (?:that'?s|it'?s) done|okay|ok|right|step \w+)\b[\s,:]*)+",
    re.I,
)
# Kept with the step (they say when), but not its verb.
WHEN = re.compile(
    r"^(?:meanwhile|while (?:that|it)[^,]*|in the meantime|at the same time),?\s+", re.I
)
# "you/we (then) (just) add ...": told as an instruction.
TOLD = re.compile(r"^(?:you|we)(?:'ll| will| can| just| then| now| simply)*\s+", re.I)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Instruction verbs: a sentence opening with one is a step.
VERBS = _words(
    """
    add adjust allow apply arrange assemble bake baste beat blanch blend boil book bring broil
    brown brush buy call carve check chill chop clean coat combine cook cool cover crack
    crush cut decorate deglaze dice dip discard dissolve divide drain drizzle drop dust
    fill finish flip fold fry garnish get go grab grate grease grill grind head heat hold
    insert keep knead layer leave let lift line marinate mash measure melt mince mix
    open order pack pan pat peel pick pinch place plate pop pour preheat prepare press
    put reduce refrigerate remove repeat rest rinse roast roll rub saute sauté scoop
    scrape sear season serve set shake shape shred sift simmer skip slice soak spoon
    spread sprinkle squeeze start stir strain stuff swap take taste throw toast top toss
    transfer trim try turn use visit wait walk warm wash whip whisk wrap zest ask avoid
    bring come do drive follow look make sit stay stop remember note
    """
)
# Words that never open an instruction, though a step may contain them.
NOT_VERBS = _words(
    """
    i i'm i've i'll we we're we've you you're it it's this that these those there here
    the a an my our your his her their its he she they today now so and but or if when
    what why how who which is are was were be been has have had do does did not no yes
    very really just also too well oh wow okay ok yeah hi hello hey thanks thank welcome
    """
)
# Words that follow an instruction verb ("boil the", "fry two", "let it").
OBJECT_START = re.compile(
    r"^(?:the|a|an|your|it|them|everything|some|all|about|\d+|one|two|three|four|five|"
    r"half|in|into|on|up|down|out|off|over|for|until|with)\b",
    re.I,
)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text.strip()) if s.strip()]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def without_greeting(sentence: str) -> str:
    """The sentence without an opening greeting ('' when it was only a greeting)."""
    rest = GREETING.sub("", sentence, count=1).strip()
    if rest == sentence.strip():
        return rest
    return _capital(rest) if re.search(r"\w", rest) else ""


def is_sign_off(sentence: str) -> bool:
    return bool(SIGN_OFF.match(sentence.strip()))


def is_intro(sentence: str) -> bool:
    return bool(INTRO.match(sentence.strip()))


def as_step(sentence: str) -> str:
    """The sentence as an instruction ("First, boil the pasta." -> "Boil the pasta."), or ''
    when it is not one."""
    body = SEQUENCE.sub("", sentence.strip())
    when = WHEN.match(body)
    rest = body[when.end() :] if when else body
    rest = TOLD.sub("", rest, count=1) if TOLD.match(rest) else rest
    words = rest.split(maxsplit=1)
    if not words:
        return ""
    verb = words[0].lower().strip(",.!?")
    after = words[1] if len(words) > 1 else ""
    if verb in NOT_VERBS or (verb.endswith(("ing", "ed")) and verb not in VERBS):
        return ""
    if verb not in VERBS and not OBJECT_START.match(after):
        return ""
    step = _capital(rest)
    return f"{_capital(when.group(0))}{rest}" if when else step


def content_sentences(text: str) -> list[str]:
    """The transcript's sentences without greetings and sign-offs."""
    kept = []
    for sentence in sentences(text):
        sentence = without_greeting(sentence)
        if sentence and not is_sign_off(sentence):
            kept.append(sentence)
    return kept


def _split(sentence: str) -> tuple[str, str]:
    """(lead, instruction) when a sentence runs an introduction into steps, as speech
    recognition writes it ("Today we make pasta, boil the spaghetti, and add basil.");
    else (sentence, '')."""
    clauses = re.split(r",\s+", sentence)
    for index in range(1, len(clauses)):
        if step := as_step(", ".join(clauses[index:])):
            return ", ".join(clauses[:index]).rstrip(",;") + ".", step
    return sentence, ""


def steps(text: str) -> list[str]:
    """The instructions the transcript speaks, in order."""
    found = []
    for sentence in content_sentences(text):
        step = "" if is_intro(sentence) else as_step(sentence)
        if step := step or _split(sentence)[1]:
            found.append(step)
    return found


def intro(text: str) -> str:
    """The words that say what the video is ("Today we make a quick pasta."), or ''."""
    said = next((s for s in content_sentences(text) if is_intro(s)), "")
    return _split(said)[0] if said else ""
