"""The error catalogue: every pronunciation error the backend's scorer can report, defined once.

The scorer (``phonicflow_backend.scoring``) emits these slugs in ``WordResult.error``; the bot
shows :attr:`ErrorEntry.label_en`/``label_pt`` beside the word, and the tips reach the learner
through the scorer's ``tip_en``/``tip_pt``. Both sides read this module, so a slug added to the
scorer without a label here fails a test instead of showing "(th to z)" to a learner.

Usage::

    from phonicflow_common.catalogue import ERROR_CATALOGUE, error_label, error_tip

    error_label("th_to_t", "pt")        # 'TH saiu como T'
    error_tip("th_to_t", "en")          # 'Put the tip of your tongue lightly between ...'
    ERROR_CATALOGUE["th_to_t"].error_type   # 'substitution'

Each slug names one phonetic rewrite rule of the scorer or one outcome of its alignment
(``omitted``, ``mispronounced``). Labels are a few words (they sit in a word-by-word list on a
phone screen); tips are one sentence. The Portuguese is written for a Brazilian reader in one
register (você, imperative: "Coloque", "Comece"), not translated word for word.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: The ``error_type`` values a word's error can have.
ErrorType = Literal["substitution", "omission", "insertion", "vowel_insertion", "deletion"]
ERROR_TYPES: tuple[ErrorType, ...] = (
    "substitution",
    "omission",
    "insertion",
    "vowel_insertion",
    "deletion",
)


@dataclass(frozen=True)
class ErrorEntry:
    """One typical Brazilian-learner error: what it is, what to call it, how to fix it."""

    slug: str
    #: for developers and docs (e.g. "voiceless TH /θ/ said as T (think → tink)")
    description: str
    error_type: ErrorType
    label_en: str
    label_pt: str
    tip_en: str
    tip_pt: str

    def label(self, lang: str) -> str:
        return self.label_pt if lang == "pt" else self.label_en

    def tip(self, lang: str) -> str:
        return self.tip_pt if lang == "pt" else self.tip_en


_ENTRIES = (
    ErrorEntry(
        "th_to_t",
        "voiceless TH /θ/ said as T (think → tink)",
        "substitution",
        "TH sounded like T",
        "TH saiu como T",
        "Put the tip of your tongue lightly between your teeth and blow air: th, not t.",
        "Coloque a ponta da língua entre os dentes e sopre o ar: é th, não t.",
    ),
    ErrorEntry(
        "th_to_d",
        "voiced TH /ð/ said as D (there → dere)",
        "substitution",
        "TH sounded like D",
        "TH saiu como D",
        "Tongue between your teeth and let your voice buzz: the 'th' in 'there' is not a d.",
        "Coloque a língua entre os dentes e deixe a voz vibrar: o 'th' de 'there' não é um d.",
    ),
    ErrorEntry(
        "th_to_f",
        "voiceless TH /θ/ said as F (three → free)",
        "substitution",
        "TH sounded like F",
        "TH saiu como F",
        "Use your tongue, not your lip: tongue tip between the teeth, then blow.",
        "Use a língua, não o lábio: coloque a ponta da língua entre os dentes e sopre.",
    ),
    ErrorEntry(
        "th_to_s",
        "voiceless TH /θ/ said as S (think → sink)",
        "substitution",
        "TH sounded like S",
        "TH saiu como S",
        "Move your tongue forward until it touches your teeth; keep the air flowing.",
        "Avance a língua até encostar nos dentes e deixe o ar sair, sem virar s.",
    ),
    ErrorEntry(
        "th_to_z",
        "voiced TH /ð/ said as Z (this → zis)",
        "substitution",
        "TH sounded like Z",
        "TH saiu como Z",
        "Put your tongue between your teeth and hum: th, not z.",
        "Coloque a língua entre os dentes e deixe a voz vibrar: th, não z.",
    ),
    ErrorEntry(
        "vowel_insertion",
        "an extra vowel after a final consonant (big → bigi, book → booki)",
        "vowel_insertion",
        "extra vowel at the end",
        "vogal a mais no final",
        "End the word on the consonant: close it and stop, no extra 'i' after it.",
        "Termine a palavra na consoante: feche o som e pare, sem o 'i' no final.",
    ),
    ErrorEntry(
        "initial_vowel_insertion",
        "an extra vowel before initial s + consonant (school → eschool)",
        "vowel_insertion",
        "extra vowel before the S",
        "“e” a mais antes do S",
        "Start straight on the 's': sss-school, with no 'e' before it.",
        "Comece direto no 's': sss-school, sem o 'e' antes.",
    ),
    ErrorEntry(
        "h_dropped",
        "initial H not pronounced (house → ouse)",
        "deletion",
        "H left out",
        "faltou o H",
        "Breathe out before the vowel, as if fogging a mirror: h-house.",
        "Solte o ar antes da vogal, como quem embaça um espelho: h-house.",
    ),
    ErrorEntry(
        "r_as_h",
        "initial R said like an H, as in Portuguese 'rato' (red → hed)",
        "substitution",
        "R sounded like H",
        "R saiu como H",
        "English R is in the front: curl your tongue back without touching anything.",
        "O R do inglês não é o R de 'rato': curve a língua para trás, sem encostar em nada.",
    ),
    ErrorEntry(
        "h_as_r",
        "initial H said as an English R (hat → rat)",
        "substitution",
        "H sounded like R",
        "H saiu como R",
        "H is only air: open your mouth and breathe out, the tongue stays down.",
        "O H é só ar: abra a boca e solte o ar, com a língua relaxada embaixo.",
    ),
    ErrorEntry(
        "i_ih_confusion",
        "long /iː/ and short /ɪ/ swapped (sheep ↔ ship, live ↔ leave)",
        "substitution",
        "long and short I mixed up",
        "trocou o I longo e o curto",
        "Long 'ee' is tense and smiling; short 'i' is relaxed and quick.",
        "O 'ee' longo é tenso, com sorriso; o 'i' curto é relaxado e rápido.",
    ),
    ErrorEntry(
        "final_s_dropped",
        "final -s or -z not pronounced (trees → tree, cats → cat)",
        "deletion",
        "final S missing",
        "faltou o S do final",
        "Finish the word with a clear s or z sound: tree-z.",
        "Pronuncie o S do final com clareza: tree-z, sem engolir.",
    ),
    ErrorEntry(
        "final_ed_dropped",
        "final -ed (t/d) not pronounced (worked → work)",
        "deletion",
        "-ED ending missing",
        "faltou o -ED do final",
        "Say the -ed ending: a short t or d at the end (worked → workt).",
        "Pronuncie a terminação -ed: um t ou d curto no final (worked → workt).",
    ),
    ErrorEntry(
        "t_to_ch",
        "T before an 'ee' sound said as CH, as in Portuguese 'tia' (team → cheem)",
        "substitution",
        "T sounded like CH",
        "T saiu como “tch”",
        "Keep the t clean: tongue behind the top teeth, a quick tap, no 'tch'.",
        "Mantenha o t limpo, sem o 'tch' de 'tia': língua atrás dos dentes, toque rápido.",
    ),
    ErrorEntry(
        "d_to_jh",
        "D before an 'ee' sound said as J, as in Portuguese 'dia' (deep → jeep)",
        "substitution",
        "D sounded like J",
        "D saiu como “dj”",
        "Keep the d clean: tongue behind the top teeth, no 'dj'.",
        "Mantenha o d limpo, sem o 'dj' de 'dia': língua atrás dos dentes de cima.",
    ),
    ErrorEntry(
        "ed_extra_syllable",
        "-ed said as an extra syllable (worked → work-ed)",
        "vowel_insertion",
        "-ED said as an extra syllable",
        "-ED virou uma sílaba a mais",
        "After most sounds -ed is only a t or d: worked is one syllable, workt.",
        "Na maioria das palavras o -ed é só um t ou d: worked tem uma sílaba só, workt.",
    ),
    ErrorEntry(
        "final_l_vocalised",
        "a final L said as [w], as in Portuguese 'Brasil' (feel → feeu)",
        "substitution",
        "final L sounded like W",
        "o L do final virou U",
        "End on a real L: touch the tip of your tongue to the ridge behind your top teeth.",
        "Termine com um L de verdade: encoste a ponta da língua atrás dos dentes de cima.",
    ),
    ErrorEntry(
        "ng_to_n",
        "a final NG said as N (thing → thin)",
        "substitution",
        "NG sounded like N",
        "o NG saiu como N",
        "For NG, lift the back of your tongue to the roof of your mouth, not the tip: thing, not thin.",
        "No NG, quem sobe é o fundo da língua, não a ponta: thing, não thin.",
    ),
    ErrorEntry(
        "ae_eh_confusion",
        "/æ/ said as /ɛ/ (man → men, bad → bed)",
        "substitution",
        "A sounded like E",
        "o A saiu como É",
        "Drop your jaw more for the A of 'man': it is more open than the E of 'men'.",
        "Abra mais a boca no A de 'man': ele é mais aberto que o É de 'men'.",
    ),
    ErrorEntry(
        "omitted",
        "the word was not said",
        "omission",
        "word missing",
        "palavra faltando",
        "This word was missing: say the whole sentence, every word.",
        "Essa palavra ficou faltando: diga a frase inteira, palavra por palavra.",
    ),
    ErrorEntry(
        "mispronounced",
        "the word did not sound like its expected pronunciation",
        "substitution",
        "didn't sound right",
        "não saiu certo",
        "Listen to the model and repeat this word slowly, sound by sound.",
        "Ouça o exemplo e repita essa palavra devagar, som por som.",
    ),
)

#: slug → entry, in catalogue order.
ERROR_CATALOGUE: dict[str, ErrorEntry] = {entry.slug: entry for entry in _ENTRIES}


#: The sound families errors are grouped in for progress and drills (the practice focuses), in
#: the order a learner sees them, with their names (English, Portuguese).
SOUND_FAMILIES: dict[str, tuple[str, str]] = {
    "th": ("TH (think, this)", "TH (think, this)"),
    "vowel_insertion": ("final consonants (big, not bigi)", "consoantes finais (big, não bigi)"),
    "h_r": ("H and R (house, red)", "H e R (house, red)"),
    "i_ih": ("short i and long ee (ship, sheep)", "i curto e ee longo (ship, sheep)"),
    "final_s_ed": ("final -s and -ed (trees, worked)", "-s e -ed finais (trees, worked)"),
}


def family_label(family: str, lang: str) -> str:
    """The learner-facing name of a sound family (its own name when unknown)."""
    en, pt = SOUND_FAMILIES.get(family, (family, family))
    return pt if lang == "pt" else en


def error_label(slug: str, lang: str) -> str:
    """The learner-facing name of ``slug`` in ``lang``; an unknown slug (a newer backend) gets
    the neutral "mispronounced" wording rather than its raw name."""
    return ERROR_CATALOGUE.get(slug, ERROR_CATALOGUE["mispronounced"]).label(lang)


def error_tip(slug: str, lang: str) -> str:
    """The one-sentence tip for ``slug`` in ``lang`` (``""`` for an unknown slug)."""
    entry = ERROR_CATALOGUE.get(slug)
    return entry.tip(lang) if entry is not None else ""


__all__ = [
    "ERROR_CATALOGUE",
    "ERROR_TYPES",
    "SOUND_FAMILIES",
    "ErrorEntry",
    "ErrorType",
    "error_label",
    "error_tip",
    "family_label",
]
