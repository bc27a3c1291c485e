"""Coaching text from a pronunciation assessment, in English and Brazilian Portuguese.

Usage::

    coach = TemplateCoach()
    text = coach.coach(assessment, transcript="i tink so", target_text="I think so")
    text.en   # 'Nice effort! The TH in "think" came out like a T. ...'
    text.pt   # 'Boa tentativa! O TH de "think" saiu como T. ...'

The templates are written in both languages (not translated): a Brazilian learner reads
Portuguese written the way a Brazilian teacher talks. A note with no errors gets praise; a note
with errors gets an opener matched to the score, at most :data:`MAX_TIPS` tips (the most
important errors, flagged words named in quotes) and a nudge to try again.

:class:`OllamaCoach` asks an Ollama server instead (``OLLAMA_URL``); its English is translated
by the pipeline, and any failure falls back to the templates.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from phonicflow_backend.scoring import Assessment, ScorerConfig, WordResult
from phonicflow_common.contract import Language

#: Tips per reply: more than two reads like a wall of corrections on a phone screen.
MAX_TIPS = 2
#: Words named per tip.
MAX_WORDS_PER_TIP = 3
#: An error-free note at or above this score is praised outright.
PRAISE_SCORE = 80.0
#: Openers by score band for notes with errors.
GOOD_SCORE = 70.0
FAIR_SCORE = 40.0
#: The coaching voice note says, per language, the most important tip (or the text's first
#: sentences) up to this many characters, always a whole first sentence: about 11 s of speech
#: each; the text reply has the rest. The whole text read out was 10-48 s (issue 14).
SPOKEN_MAX_CHARS = 160
#: A word with no error scoring below this is "not clear" (the bot's ⚠️; a flagged word scores
#: at most this much, docs/scoring.md)
UNCLEAR_SCORE = ScorerConfig().flagged_score_cap


#: One stretch of the coaching voice note and the voice that says it.
VoicePart = tuple[str, Language]


@dataclass(frozen=True)
class CoachingText:
    en: str
    pt: str
    source: str = "templates"
    #: (English, Portuguese) for the voice note when it is not the start of the text: the
    #: templates' most important tip, without the opener and the closer
    spoken: tuple[str, str] | None = None
    #: English words the Portuguese text quotes (the learner's words, example words): the
    #: Portuguese voice note says them with the English voice
    english_words: tuple[str, ...] = ()

    def for_voice(self, language: Language | None) -> list[VoicePart]:
        """The coaching voice note in the learner's language (English when unknown): the most
        important tip only; in Portuguese, the quoted English words in the English voice."""
        en, pt = self.spoken or (self.en, self.pt)
        if language != "pt":
            return [(spoken_part(en), "en")]
        return _with_english_words(spoken_part(pt), set(self.english_words))


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_QUOTED = re.compile(r'"([^"]+)"')


def _with_english_words(pt: str, english: set[str]) -> list[VoicePart]:
    """``pt`` cut around its quoted English words: 'O TH de "think" saiu como T.' →
    [("O TH de", "pt"), ("think", "en"), ("saiu como T.", "pt")]; other quotes ("tia") stay."""
    parts: list[VoicePart] = []
    rest = 0
    for quoted in _QUOTED.finditer(pt):
        if quoted.group(1) not in english:
            continue
        parts.append((pt[rest : quoted.start()], "pt"))
        parts.append((quoted.group(1), "en"))
        rest = quoted.end()
    parts.append((pt[rest:], "pt"))
    cut = [(text.lstrip(" ,.:;").rstrip(" ,:;"), lang) for text, lang in parts]
    return [(text, lang) for text, lang in cut if text.strip(".!?")]


def spoken_part(text: str, max_chars: int = SPOKEN_MAX_CHARS) -> str:
    """The first sentences of ``text`` that fit in ``max_chars`` (always the first one)."""
    sentences = _SENTENCE_END.split(" ".join(text.split()))
    kept = sentences[:1]
    for sentence in sentences[1:]:
        if len(" ".join([*kept, sentence])) > max_chars:
            break
        kept.append(sentence)
    return " ".join(kept)


@dataclass(frozen=True)
class _Tip:
    en: str
    pt: str
    #: how much this kind of error hurts intelligibility; higher comes first
    weight: int
    #: English example words the Portuguese tip quotes (said in the English voice)
    examples: tuple[str, ...] = ()


_TH_SOUND = {"th_to_t": "T", "th_to_d": "D", "th_to_f": "F", "th_to_s": "S", "th_to_z": "Z"}

_TIPS: dict[str, _Tip] = {
    "th": _Tip(
        "The TH in {words} came out like a {sound}. Put the tip of your tongue lightly between "
        "your teeth and let the air flow out, without tapping.",
        "O TH de {words} saiu como {sound}. Coloque a pontinha da língua entre os dentes e deixe "
        "o ar passar, sem bater a língua. No começo parece estranho, mas é assim mesmo!",
        5,
    ),
    "vowel_insertion": _Tip(
        "I heard an extra vowel at the end of {words}. English words can end on a consonant: "
        "stop cleanly on the last sound.",
        'Apareceu um "i" a mais no final de {words}, tipo "dógui". Em inglês a palavra pode '
        "terminar em consoante: corte o som ali mesmo, sem vogal extra.",
        4,
    ),
    "initial_vowel_insertion": _Tip(
        'I heard an extra "e" before the S at the start of {words}. Start straight on the S: '
        "sss-chool, not es-chool.",
        'Em {words} apareceu aquele "e" antes do S, tipo "eschool". Comece direto no S, '
        "chiando: sss-chool.",
        4,
    ),
    "h_as_r": _Tip(
        "In {words} the H sounded like an English R. The H is only air: open your mouth and "
        "breathe out, tongue relaxed.",
        'Em {words} o H virou um R do inglês, e "hat" fica parecendo "rat". O H é só ar: '
        "abra a boca e solte o ar, com a língua relaxada lá embaixo.",
        3,
        ("hat", "rat"),
    ),
    "t_to_ch": _Tip(
        "In {words} the T turned into a CH sound. Keep it clean: tongue behind your top teeth, "
        "one quick tap.",
        'Em {words} o T virou "tch", como no "tia" do português. Em inglês o T é limpo: '
        "encoste a língua atrás dos dentes de cima e solte rapidinho.",
        3,
    ),
    "d_to_jh": _Tip(
        "In {words} the D turned into a J sound. Keep it clean: tongue behind your top teeth, "
        'no "dj".',
        'Em {words} o D virou "dj", como no "dia" do português. Em inglês o D é limpo, '
        "com a língua atrás dos dentes de cima.",
        3,
    ),
    "h_dropped": _Tip(
        "The H at the start of {words} went missing. Breathe out a little air before the vowel, "
        "like fogging up a mirror.",
        "O H do começo de {words} sumiu. Solte um arzinho antes da vogal, como quem embaça um "
        "espelho.",
        3,
    ),
    "r_as_h": _Tip(
        "In {words} the R sounded like an H. For the English R, curl the tip of your tongue back "
        "without touching the roof of your mouth.",
        'Em {words} o R saiu com aquele som de "rr" de "rato", que pro ouvido americano '
        "parece um H. O R do inglês lembra o R caipira: curve a ponta da língua pra trás, sem "
        "encostar em nada.",
        4,
    ),
    "i_ih_confusion": _Tip(
        'Watch the vowel in {words}: the short I of "ship" and the long EE of "sheep" change '
        "the meaning. Keep the short one relaxed and quick.",
        'Atenção à vogal de {words}: o "i" curtinho de "ship" e o "i" longo de "sheep" '
        'mudam o sentido da palavra. O curto é mais relaxado e rápido, quase um "ê".',
        3,
        ("ship", "sheep"),
    ),
    "final_s_dropped": _Tip(
        "The final S in {words} got lost. Let it hiss at the end: it tells the listener it is "
        "plural or third person.",
        "Faltou o S do final em {words}. Não engula o S: é ele que mostra que é plural ou "
        "terceira pessoa.",
        2,
    ),
    "final_ed_dropped": _Tip(
        "The -ED ending in {words} was missing, so it sounded like the present. Finish with a "
        "clear T or D sound.",
        "Faltou o -ED de {words}, e aí parece que é presente. Termine com um T ou D bem claro, "
        'sem colocar "i" no final.',
        2,
    ),
    "ed_extra_syllable": _Tip(
        "In {words} the -ED became an extra syllable. After most sounds it is only a T or D "
        "stuck to the word: worked is one syllable.",
        'Em {words} o -ED virou uma sílaba a mais, tipo "work-ed". Na maioria das palavras ele '
        'é só um T ou D colado no final: "worked" tem uma sílaba só.',
        2,
        ("work-ed", "worked"),
    ),
    "final_l_vocalised": _Tip(
        "The L at the end of {words} sounded like a W. Finish with the tip of your tongue "
        "touching the ridge behind your top teeth.",
        'O L do final de {words} virou "u", como em "Brasil". Termine com a ponta da língua '
        "atrás dos dentes de cima.",
        2,
    ),
    "ng_to_n": _Tip(
        "The NG at the end of {words} came out as an N. Lift the back of your tongue, not the "
        "tip, and let the sound go through your nose.",
        'O NG do final de {words} saiu como N. Suba o fundo da língua, não a ponta: "thing", '
        'não "thin".',
        2,
        ("thing", "thin"),
    ),
    "ae_eh_confusion": _Tip(
        'The A in {words} sounded like the E of "men". Drop your jaw more: the A of "man" is '
        "wider and more open.",
        'O A de {words} saiu como o É de "men". Abra mais a boca: o A de "man" fica entre o '
        '"a" e o "é".',
        3,
        ("man", "men"),
    ),
    "omitted": _Tip(
        "I didn't hear {words}. Try the sentence again a little slower, saying every word.",
        "Não consegui ouvir {words}. Tente de novo com calma, falando cada palavra.",
        6,
    ),
    "mispronounced": _Tip(
        "{words_cap} didn't sound quite right yet. Listen to the model and repeat it slowly, one "
        "syllable at a time.",
        "{words_cap} ainda não saiu do jeito certo. Escute o exemplo e repita devagar, sílaba por "
        "sílaba.",
        1,
    ),
}

_PRAISE = [
    ("Excellent! Every word came through clearly.", "Mandou muito bem! Deu pra entender todas as palavras."),
    ("Great job, that sounded clear and natural.", "Muito bom! Ficou claro e bem natural."),
    ("Perfect, I understood every word.", "Perfeito, entendi tudinho!"),
    ("Well done! Your pronunciation was spot on.", "Arrasou! Sua pronúncia está ótima."),
]  # fmt: skip
_KEEP_GOING = [
    ("Keep it up!", "Continue assim!"),
    ("Ready for a harder one?", "Bora tentar uma frase mais difícil?"),
    ("Try a longer sentence next.", "Agora tente uma frase mais comprida."),
]
_OPENERS = {
    "good": [("Good job, almost there!", "Muito bom, tá quase lá!")],
    "fair": [("Nice effort!", "Boa tentativa!"), ("Good try!", "Boa tentativa!")],
    "low": [("Let's work on this one together.", "Vamos treinar essa juntos?"),
            ("This one is tricky, let's break it down.", "Essa é difícil mesmo, vamos por partes.")],
}  # fmt: skip
_ONE_DETAIL = ("Nice, just a detail to polish.", "Legal, só falta um detalhe.")
_TRY_AGAIN = [
    ("Try it again when you're ready.", "Grave de novo quando quiser!"),
    ("Give it another go!", "Bora tentar mais uma vez?"),
]
_NO_AUDIO = (
    "Send me a voice note and I'll check your pronunciation word by word.",
    "Mande um áudio que eu escuto sua pronúncia palavra por palavra!",
)
_NOT_SCORED = (
    "I couldn't check your pronunciation word by word this time. Try recording again, a bit "
    "closer to the microphone.",
    "Dessa vez não consegui avaliar sua pronúncia palavra por palavra. Tente gravar de novo, um "
    "pouco mais perto do microfone.",
)
_LONG_NOTE = (
    "That was a long one! I check pronunciation word by word on shorter notes, about one or two "
    "sentences. Try sending a single sentence.",
    "Esse áudio ficou comprido! Eu avalio a pronúncia palavra por palavra em áudios mais curtos, "
    "de uma ou duas frases. Mande uma frase de cada vez.",
)
_NOTHING_HEARD = (
    "I couldn't hear any words in that note. Try again in a quiet place, speaking clearly.",
    "Não consegui ouvir nenhuma palavra nesse áudio. Tente de novo num lugar mais silencioso, "
    "falando com calma.",
)


_DIFFERENT_SENTENCE = (
    'That didn\'t sound like the sentence "{target}". I heard: "{heard}". Say the sentence '
    "again and I'll check it word by word.",
    'Não pareceu a frase "{target}". Eu ouvi: "{heard}". Grave a frase de novo e eu confiro '
    "palavra por palavra.",
)


_UNSURE_TRANSCRIPT = (
    'I\'m not sure I understood that well enough to check it word by word. I heard: "{heard}". '
    "Try again a little slower, a bit closer to the microphone.",
    'Não tenho certeza se entendi bem para avaliar palavra por palavra. Eu ouvi: "{heard}". '
    "Tente de novo um pouco mais devagar e mais perto do microfone.",
)


def quote_list(words: Sequence[str], conjunction: str) -> str:
    """'"a"', '"a" and "b"', '"a", "b" and "c"' (``conjunction`` is "and" or "e")."""
    quoted = [f'"{word}"' for word in words]
    if len(quoted) <= 1:
        return "".join(quoted)
    return f"{', '.join(quoted[:-1])} {conjunction} {quoted[-1]}"


def _tip_key(slug: str) -> str:
    return "th" if slug in _TH_SOUND else slug


def flagged_words(assessment: Assessment) -> list[WordResult]:
    return [word for word in assessment.words if word.error]


def unclear_words(assessment: Assessment) -> list[WordResult]:
    """Scored words with no error but a score below UNCLEAR_SCORE: the bot shows them ⚠️ "not
    clear", so the coaching must not call the note perfect."""
    return [w for w in assessment.words if w.scored and not w.error and w.score < UNCLEAR_SCORE]


def _pick(options: Sequence[tuple[str, str]], rng: random.Random) -> tuple[str, str]:
    return options[rng.randrange(len(options))]


class TemplateCoach:
    """Coaching from hand-written bilingual templates; instant and deterministic per input."""

    name = "templates"

    def coach(
        self, assessment: Assessment | None, *, transcript: str, target_text: str | None
    ) -> CoachingText:
        # Seeded by the input so a retried request gets the same words, yet replies vary.
        rng = random.Random(f"{transcript}|{target_text}")  # noqa: S311 - variety, not secrecy
        if assessment is None:
            if not transcript.strip():
                return CoachingText(*_NOTHING_HEARD)
            if len(transcript.split()) > ScorerConfig().max_words:
                return CoachingText(*_LONG_NOTE)
            return CoachingText(*_NOT_SCORED)
        if not assessment.aligned:
            return CoachingText(*_NOT_SCORED)
        flagged = flagged_words(assessment)
        unclear = unclear_words(assessment)
        score = assessment.overall_score
        if not flagged and not unclear and score >= PRAISE_SCORE:
            praise, more = _pick(_PRAISE, rng), _pick(_KEEP_GOING, rng)
            return CoachingText(f"{praise[0]} {more[0]}", f"{praise[1]} {more[1]}")
        band = "good" if score >= GOOD_SCORE else "fair" if score >= FAIR_SCORE else "low"
        # "just a detail" only when there is exactly one (said for three errors, it rang false)
        one_detail = [_ONE_DETAIL] if band == "good" and len(flagged) == 1 else []
        opener = _pick([*_OPENERS[band], *one_detail], rng)
        if not flagged and unclear:
            # the bot marks these ⚠️ "not clear": the coaching names them rather than praising
            names = list(dict.fromkeys(w.expected for w in unclear))[:MAX_WORDS_PER_TIP]
            return CoachingText(
                f"{opener[0]} {quote_list(names, 'and')} didn't come through clearly. Say it "
                "once more, a little slower.",
                f"{opener[1]} Não deu para entender bem {quote_list(names, 'e')}. Fale mais uma "
                "vez, um pouco mais devagar.",
                english_words=tuple(names),
            )
        if not flagged:
            return CoachingText(
                f"{opener[0]} Say it once more, a little slower and clearer.",
                f"{opener[1]} Fale mais uma vez, um pouco mais devagar e com clareza.",
            )
        closer = _pick(_TRY_AGAIN, rng)
        en_tips, pt_tips, english = self._tips(flagged)
        return CoachingText(
            " ".join([opener[0], *en_tips, closer[0]]),
            " ".join([opener[1], *pt_tips, closer[1]]),
            spoken=(en_tips[0], pt_tips[0]),
            english_words=english,
        )

    def different_sentence(self, *, transcript: str, target_text: str) -> CoachingText:
        """A drill note that was not the drill sentence: say so and what was heard, judge
        nothing (drill_match.py decides)."""
        heard = " ".join(transcript.split())
        en, pt = _DIFFERENT_SENTENCE
        return CoachingText(
            en.format(target=target_text, heard=heard),
            pt.format(target=target_text, heard=heard),
            english_words=(target_text, heard),
        )

    def unsure_transcript(self, *, transcript: str) -> CoachingText:
        """Free speech whose transcript Whisper was unsure of: say what was heard, judge no
        word (drill_match.unreliable decides)."""
        heard = " ".join(transcript.split())
        en, pt = _UNSURE_TRANSCRIPT
        return CoachingText(en.format(heard=heard), pt.format(heard=heard), english_words=(heard,))

    def _tips(self, flagged: list[WordResult]) -> tuple[list[str], list[str], tuple[str, ...]]:
        """English and Portuguese tips, most important first, and the English words quoted."""
        groups: dict[str, list[WordResult]] = {}
        for word in flagged:
            groups.setdefault(_tip_key(word.error or "mispronounced"), []).append(word)

        def importance(item: tuple[str, list[WordResult]]) -> tuple[int, int, float]:
            key, words = item
            tip = _TIPS.get(key)
            weight = tip.weight if tip else 1
            return (-weight, -len(words), min(w.score for w in words))

        en_out: list[str] = []
        pt_out: list[str] = []
        english: list[str] = []
        for key, words in sorted(groups.items(), key=importance)[:MAX_TIPS]:
            names = list(dict.fromkeys(w.expected for w in words))[:MAX_WORDS_PER_TIP]
            tip = _TIPS.get(key)
            english += [*names, *(tip.examples if tip else ())]
            if tip is None:
                # A slug the templates don't know yet: the scorer's own tip still names the words.
                first = words[0]
                en_out.append(f"{quote_list(names, 'and')}: {first.tip_en}".strip())
                pt_out.append(f"{quote_list(names, 'e')}: {first.tip_pt}".strip())
                continue
            # "think" heard as T and "there" as D: name both sounds rather than only the first
            sounds = list(dict.fromkeys(_TH_SOUND.get(w.error or "", "T") for w in words))
            en_words, pt_words = quote_list(names, "and"), quote_list(names, "e")
            en_out.append(tip.en.format(words=en_words, words_cap=en_words,
                                        sound=" or ".join(sounds)))  # fmt: skip
            pt_out.append(tip.pt.format(words=pt_words, words_cap=pt_words,
                                        sound=" ou ".join(sounds)))  # fmt: skip
        return en_out, pt_out, tuple(dict.fromkeys(english))


def text_only_coaching() -> CoachingText:
    return CoachingText(*_NO_AUDIO)


class LlmError(RuntimeError):
    """The LLM could not be reached or answered nonsense; the caller falls back to templates."""


class OllamaClient:
    """``POST {OLLAMA_URL}/api/generate`` with ``stream: false``; one short answer per call."""

    def __init__(self, base_url: str, model: str, timeout_s: float) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s)
        self.model = model

    async def generate(self, prompt: str) -> str:
        try:
            response = await self._client.post(
                "/api/generate",
                json={"model": self.model, "prompt": prompt, "stream": False,
                      "options": {"temperature": 0.4, "num_predict": 160}},
            )  # fmt: skip
            response.raise_for_status()
            text = str(response.json().get("response", "")).strip()
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            raise LlmError(f"Ollama request failed: {exc}") from exc
        if not text:
            raise LlmError("Ollama returned an empty answer")
        return text

    async def aclose(self) -> None:
        await self._client.aclose()


def coaching_prompt(assessment: Assessment | None, transcript: str, target: str | None) -> str:
    """The instruction for the LLM: short, kind, names the flagged words in double quotes."""
    lines = [
        "You are a friendly English pronunciation coach for Brazilian Portuguese speakers.",
        f'The learner said: "{transcript}".',
    ]
    if target:
        lines.append(f'They were asked to say: "{target}".')
    if assessment is not None:
        lines.append(f"Overall pronunciation score: {assessment.overall_score:.0f}/100.")
        for word in flagged_words(assessment)[:4]:
            lines.append(
                f'- "{word.expected}" was heard as "{word.heard}" ({word.error}). Hint: {word.tip_en}'
            )
    lines.append(
        "Reply in English in at most three short sentences: praise if all is well, otherwise "
        "give one or two concrete tips, putting each English example word in double quotes."
    )
    return "\n".join(lines)
