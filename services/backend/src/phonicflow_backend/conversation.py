"""A short friendly reply to what the learner said, in English and Brazilian Portuguese.

Usage::

    reply = TemplateConversation().reply("what is your name")
    reply.en, reply.pt

Templates keyed on what the learner said: a greeting, a question, a few common topics
(weather, food, work, family, travel, music, ...), thanks, goodbyes, and for a drill sentence
an invitation to the next one; a general fallback otherwise. Several phrasings per case, chosen
deterministically from the text so a retried request answers the same. With ``OLLAMA_URL`` set,
the pipeline asks the LLM and translates its answer instead.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Reply:
    en: str
    pt: str
    source: str = "templates"


_Pair = tuple[str, str]

_GREETING = re.compile(r"\b(hi|hello|hey|good (morning|afternoon|evening)|howdy)\b")
_HOW_ARE_YOU = re.compile(r"\bhow are you\b|\bhow's it going\b|\bhow do you do\b")
_NAME = re.compile(r"\b(what's|what is) your name\b|\bwho are you\b")
_THANKS = re.compile(r"\b(thanks|thank you|thx)\b")
_BYE = re.compile(r"\b(bye|goodbye|see you|good night)\b")
_QUESTION_START = re.compile(
    r"^(what|where|when|why|who|how|do|does|did|can|could|would|will|is|are|should)\b"
)

_TOPICS: dict[str, tuple[re.Pattern[str], list[_Pair]]] = {
    "weather": (re.compile(r"\b(weather|rain|raining|sun|sunny|hot|cold|snow)\b"), [
        ("Talking about the weather is a classic small-talk topic in English! How is it where you are?",
         "Falar do tempo é o assunto clássico do small talk em inglês! Como está o tempo aí?"),
    ]),
    "food": (re.compile(r"\b(food|eat|eating|lunch|dinner|breakfast|pizza|coffee|rice|beans)\b"), [
        ("Now I'm hungry! What's your favourite dish?", "Agora fiquei com fome! Qual é o seu prato favorito?"),
        ("Food is a great topic to practise. Can you describe a typical Brazilian breakfast?",
         "Comida é um ótimo assunto pra praticar. Descreva pra mim um café da manhã bem brasileiro?"),
    ]),
    "work": (re.compile(r"\b(work|job|office|boss|meeting|study|school|university)\b"), [
        ("Tell me more about what you do every day!", "Me conte mais sobre o que você faz no dia a dia!"),
    ]),
    "family": (re.compile(r"\b(family|mother|father|mom|dad|brother|sister|kids|children|wife|husband)\b"), [
        ("Family is important! How many people are there in your family?",
         "Família é tudo! Quantas pessoas tem na sua família?"),
    ]),
    "travel": (re.compile(r"\b(travel|trip|vacation|holiday|beach|city|country|airport)\b"), [
        ("I love travel stories! Where would you like to go next?",
         "Adoro histórias de viagem! Pra onde você quer ir na próxima?"),
    ]),
    "music": (re.compile(r"\b(music|song|songs|sing|band|guitar|dance)\b"), [
        ("Songs are a great way to practise pronunciation. Which singer do you like?",
         "Música é um jeito ótimo de treinar a pronúncia. Qual cantor você curte?"),
    ]),
    "nature": (re.compile(r"\b(tree|trees|park|garden|flower|flowers|forest|river|sea)\b"), [
        ("Trees and parks are lovely! Do you have a favourite place outdoors?",
         "Árvores e parques são uma delícia! Você tem um lugar favorito ao ar livre?"),
    ]),
}  # fmt: skip

#: A drill scored at least this gets "nice work" in the conversational reply.
DRILL_PRAISE_SCORE = 60.0

_REPLIES: dict[str, list[_Pair]] = {
    "greeting": [
        ("Hello! Nice to hear from you. How is your day going?", "Oi! Que bom falar com você. Como está sendo o seu dia?"),
        ("Hi there! Ready to practise a little English today?", "Oi! Bora praticar um pouquinho de inglês hoje?"),
    ],
    "how_are_you": [
        ("I'm doing great, thanks for asking! And you?", "Estou ótimo, obrigado por perguntar! E você?"),
    ],
    "name": [
        ("I'm PhonicFlow, your pronunciation coach. What's your name?",
         "Eu sou o PhonicFlow, seu treinador de pronúncia. Qual é o seu nome?"),
    ],
    "thanks": [
        ("You're welcome! Shall we practise another sentence?", "De nada! Vamos praticar mais uma frase?"),
    ],
    "bye": [
        ("Goodbye! Come back soon to practise some more.", "Tchau! Volte logo pra gente treinar mais."),
    ],
    "question": [
        ("Good question! Try answering it yourself in English, I'll listen.",
         "Boa pergunta! Tente responder você mesmo em inglês, que eu escuto."),
        ("Interesting question! What do you think?", "Pergunta interessante! O que você acha?"),
    ],
    # Praise only for a drill that scored well (DRILL_PRAISE_SCORE): the reply must not say
    # "good work" to a note the coaching just corrected.
    "drill_good": [
        ("Nice work on the drill. Want to try the next sentence?", "Bom trabalho no exercício. Quer tentar a próxima frase?"),
        ("Drills make perfect! Send /practice for another one.", "É praticando que se aprende! Mande /practice para outra frase."),
    ],
    "drill": [
        ("Practice makes perfect! Want to try it once more?", "É praticando que se aprende! Quer tentar mais uma vez?"),
        ("Keep at it! Listen to the example and try again.", "Continue assim! Escute o exemplo e tente de novo."),
    ],
    "empty": [
        ("I didn't catch that. Could you say it again?", "Não entendi direito. Pode repetir?"),
    ],
    "general": [
        ("That's interesting! Tell me a bit more.", "Que interessante! Me conte um pouco mais."),
        ("I see! Can you say that in another way?", "Entendi! Consegue dizer isso de outro jeito?"),
        ("Sounds good! What else would you like to talk about?", "Legal! Sobre o que mais você quer conversar?"),
    ],
}  # fmt: skip


def classify(text: str) -> str:
    """Which kind of reply fits ``text`` (lower-cased, punctuation ignored)."""
    normalized = re.sub(r"[^\w\s']", " ", text.lower()).strip()
    if not normalized:
        return "empty"
    for kind, pattern in (
        ("how_are_you", _HOW_ARE_YOU),
        ("name", _NAME),
        ("thanks", _THANKS),
        ("bye", _BYE),
        ("greeting", _GREETING),
    ):
        if pattern.search(normalized):
            return kind
    for topic, (pattern, _replies) in _TOPICS.items():
        if pattern.search(normalized):
            return topic
    if text.strip().endswith("?") or _QUESTION_START.match(normalized):
        return "question"
    return "general"


class TemplateConversation:
    name = "templates"

    def reply(self, text: str, *, drill: bool = False, score: float | None = None) -> Reply:
        """``score``: the drill's overall score, when it was scored."""
        kind = classify(text)
        if drill and kind in ("general", "question", "empty"):
            kind = "drill_good" if score is not None and score >= DRILL_PRAISE_SCORE else "drill"
        options = _TOPICS[kind][1] if kind in _TOPICS else _REPLIES[kind]
        rng = random.Random(text)  # noqa: S311 - variety, not secrecy
        en, pt = options[rng.randrange(len(options))]
        return Reply(en, pt)


def conversation_prompt(text: str) -> str:
    return (
        "You are a friendly English conversation partner for a Brazilian learner. "
        f'They said: "{text}". Answer naturally in one or two short, simple English sentences, '
        "and end with a question that keeps the conversation going."
    )
