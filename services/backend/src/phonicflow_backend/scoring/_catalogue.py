"""The error catalogue: pronunciation errors typical of Brazilian-Portuguese speakers.

Each slug names one phonetic rewrite rule (see ``_variants.py``) or one outcome of the
alignment (``omitted``, ``mispronounced``). Tips are short enough for a chat message; the
Portuguese ones are written for a Brazilian reader, not translated word for word.
"""

from __future__ import annotations

from ._types import ErrorPattern


def _p(slug: str, description: str, error_type: str, tip_en: str, tip_pt: str) -> ErrorPattern:
    return ErrorPattern(slug, description, error_type, tip_en, tip_pt)


_PATTERNS = [
    _p(
        "th_to_t",
        "voiceless TH /θ/ said as T (think → tink)",
        "substitution",
        "Put the tip of your tongue lightly between your teeth and blow air: th, not t.",
        "Coloque a ponta da língua entre os dentes e sopre o ar: é th, não t.",
    ),
    _p(
        "th_to_d",
        "voiced TH /ð/ said as D (there → dere)",
        "substitution",
        "Tongue between your teeth and let your voice buzz: the 'th' in 'there' is not a d.",
        "Língua entre os dentes e deixe a voz vibrar: o 'th' de 'there' não é um d.",
    ),
    _p(
        "th_to_f",
        "voiceless TH /θ/ said as F (three → free)",
        "substitution",
        "Use your tongue, not your lip: tongue tip between the teeth, then blow.",
        "Use a língua, não o lábio: ponta da língua entre os dentes, e sopre.",
    ),
    _p(
        "th_to_s",
        "voiceless TH /θ/ said as S (think → sink)",
        "substitution",
        "Move your tongue forward until it touches your teeth; keep the air flowing.",
        "Avance a língua até tocar os dentes; o ar continua saindo, sem virar s.",
    ),
    _p(
        "th_to_z",
        "voiced TH /ð/ said as Z (this → zis)",
        "substitution",
        "Put your tongue between your teeth and hum: th, not z.",
        "Coloque a língua entre os dentes e faça a voz vibrar: th, não z.",
    ),
    _p(
        "vowel_insertion",
        "an extra vowel after a final consonant (big → bigi, book → booki)",
        "vowel_insertion",
        "End the word on the consonant: close it and stop, no extra 'i' after it.",
        "Termine a palavra na consoante: feche o som e pare, sem o 'i' no final.",
    ),
    _p(
        "initial_vowel_insertion",
        "an extra vowel before initial s + consonant (school → eschool)",
        "vowel_insertion",
        "Start straight on the 's': sss-school, with no 'e' before it.",
        "Comece direto no 's': sss-school, sem o 'e' antes.",
    ),
    _p(
        "h_dropped",
        "initial H not pronounced (house → ouse)",
        "deletion",
        "Breathe out before the vowel, as if fogging a mirror: h-house.",
        "Solte o ar antes da vogal, como quem embaça um espelho: h-house.",
    ),
    _p(
        "r_as_h",
        "initial R said like an H, as in Portuguese 'rato' (red → hed)",
        "substitution",
        "English R is in the front: curl your tongue back without touching anything.",
        "O R do inglês não é o R de 'rato': enrole a língua para trás sem encostar.",
    ),
    _p(
        "h_as_r",
        "initial H said as an English R (hat → rat)",
        "substitution",
        "H is only air: open your mouth and breathe out, the tongue stays down.",
        "O H é só ar: abra a boca e solte o ar, com a língua relaxada embaixo.",
    ),
    _p(
        "i_ih_confusion",
        "long /iː/ and short /ɪ/ swapped (sheep ↔ ship, live ↔ leave)",
        "substitution",
        "Long 'ee' is tense and smiling; short 'i' is relaxed and quick.",
        "O 'ee' longo é tenso, com sorriso; o 'i' curto é relaxado e rápido.",
    ),
    _p(
        "final_s_dropped",
        "final -s or -z not pronounced (trees → tree, cats → cat)",
        "deletion",
        "Finish the word with a clear s or z sound: tree-z.",
        "Pronuncie o s do final com clareza: tree-z, sem engolir.",
    ),
    _p(
        "final_ed_dropped",
        "final -ed (t/d) not pronounced (worked → work)",
        "deletion",
        "Say the -ed ending: a short t or d at the end (worked → workt).",
        "Pronuncie a terminação -ed: um t ou d curto no final (worked → workt).",
    ),
    _p(
        "t_to_ch",
        "T before an 'ee' sound said as CH, as in Portuguese 'tia' (team → cheem)",
        "substitution",
        "Keep the t clean: tongue behind the top teeth, a quick tap, no 'tch'.",
        "Mantenha o t limpo, sem o 'tch' de 'tia': língua atrás dos dentes, toque rápido.",
    ),
    _p(
        "d_to_jh",
        "D before an 'ee' sound said as J, as in Portuguese 'dia' (deep → jeep)",
        "substitution",
        "Keep the d clean: tongue behind the top teeth, no 'dj'.",
        "Mantenha o d limpo, sem o 'dj' de 'dia': língua atrás dos dentes de cima.",
    ),
    _p(
        "omitted",
        "the word was not said",
        "omission",
        "This word was missing: say the whole sentence, every word.",
        "Essa palavra ficou faltando: diga a frase inteira, palavra por palavra.",
    ),
    _p(
        "mispronounced",
        "the word did not sound like its expected pronunciation",
        "substitution",
        "Listen to the model and repeat this word slowly, sound by sound.",
        "Ouça o modelo e repita essa palavra devagar, som por som.",
    ),
]

#: slug → pattern; the backend's coaching keys its messages on these slugs
ERRORS: dict[str, ErrorPattern] = {p.slug: p for p in _PATTERNS}
