"""The multi-voice pronunciation set: sentences said right, and each with one planted error.

Every error type of the catalogue is planted on at least two sentences of each part. The split
is by sentence: a sentence of the ``tuning`` part never appears in the ``held_out`` part, and the
held-out part is never used to choose a threshold or keep a lever (bench/scoring_eval.py).

A planted word is ARPAbet with cmudict stress (spoken exactly by espeak-ng, MBROLA and piper)
and a respelling for flite, which bench/scoring_eval.py checks against ``flite -ps``; an empty
ARPAbet means the word is left out (``omitted``).
"""

from __future__ import annotations

from dataclasses import dataclass

from phonicflow_testing.voices import Utterance


@dataclass(frozen=True)
class Case:
    """``target`` is what the learner meant; ``slug`` is None for a correctly said sentence."""

    part: str
    target: str
    index: int = -1
    slug: str | None = None
    arpabet: str = ""
    spelling: str = ""

    @property
    def utterance(self) -> Utterance:
        if self.slug is None:
            return Utterance(self.target)
        return Utterance(self.target, ((self.index, self.arpabet, self.spelling),))


# (sentence, [(word index, slug, planted ARPAbet, flite respelling), ...])
_Plants = list[tuple[int, str, str, str]]

TUNING: list[tuple[str, _Plants]] = [
    (
        "I think three trees are there",
        [
            (1, "th_to_t", "T IH1 NG K", "tink"),
            (2, "th_to_f", "F R IY1", "free"),
            (5, "th_to_d", "D EH1 R", "dare"),
            (3, "final_s_dropped", "T R IY1", "tree"),
        ],
    ),
    (
        "The big house is red",
        [
            (1, "vowel_insertion", "B IH1 G IY0", "biggy"),
            (2, "h_dropped", "AW1 S", "ouse"),
            (4, "r_as_h", "HH EH1 D", "head"),
            (1, "omitted", "", ""),
        ],
    ),
    (
        "She likes green apples",
        [
            (1, "final_s_dropped", "L AY1 K", "like"),
            (2, "i_ih_confusion", "G R IH1 N", "grin"),
            (2, "omitted", "", ""),
        ],
    ),
    (
        "We worked at the school",
        [
            (1, "final_ed_dropped", "W ER1 K", "work"),
            (4, "initial_vowel_insertion", "IH0 S K UW1 L", "iskool"),
            (1, "ed_extra_syllable", "W ER1 K IH0 D", "work-id"),
            (4, "final_l_vocalised", "S K UW1 W", "skoow"),
        ],
    ),
    (
        "He has a happy dog",
        [
            (3, "h_dropped", "AE1 P IY0", "appy"),
            (4, "vowel_insertion", "D AO1 G IY0", "doggy"),
            (3, "ae_eh_confusion", "HH EH1 P IY0", "heppy"),
        ],
    ),
    (
        "This is my brother",
        [
            (0, "th_to_z", "Z IH1 S", "ziss"),
            (3, "th_to_d", "B R AH1 D ER0", "brudder"),
        ],
    ),
    (
        "Thank you for the food",
        [
            (0, "th_to_t", "T AE1 NG K", "tank"),
            (4, "mispronounced", "F OW1 D", "fode"),
        ],
    ),
    (
        "The team is here",
        [
            (1, "t_to_ch", "CH IY1 M", "cheem"),
            (3, "h_as_r", "R IH1 R", "rear"),
        ],
    ),
    (
        "The water is deep",
        [
            (3, "d_to_jh", "JH IY1 P", "jeep"),
        ],
    ),
    (
        "He has a hat",
        [
            (3, "h_as_r", "R AE1 T", "rat"),
        ],
    ),
    (
        "Please read this book",
        [
            (2, "omitted", "", ""),
            (3, "vowel_insertion", "B UH1 K IY0", "booky"),
        ],
    ),
    (
        "I want to live here",
        [
            (3, "i_ih_confusion", "L IY1 V", "leave"),
        ],
    ),
    (
        "My father walked home",
        [
            (2, "final_ed_dropped", "W AO1 K", "walk"),
            (1, "th_to_z", "F AA1 Z ER0", "fahzer"),
            (2, "ed_extra_syllable", "W AO1 K IH0 D", "walk-id"),
        ],
    ),
    (
        "Run to the red car",
        [
            (0, "r_as_h", "HH AH1 N", "hun"),
            (4, "mispronounced", "K ER1", "cur"),
        ],
    ),
    (
        "They played with the cats",
        [
            (4, "final_s_dropped", "K AE1 T", "cat"),
            (1, "final_ed_dropped", "P L EY1", "play"),
            (1, "ed_extra_syllable", "P L EY1 IH0 D", "play-id"),
        ],
    ),
    (
        "I think so",
        [
            (1, "th_to_s", "S IH1 NG K", "sink"),
            (1, "th_to_f", "F IH1 NG K", "fink"),
        ],
    ),
    (
        "The tip was small",
        [
            (1, "t_to_ch", "CH IH1 P", "chip"),
            (3, "initial_vowel_insertion", "IH0 S M AO1 L", "issmall"),
            (3, "final_l_vocalised", "S M AO1 W", "smaow"),
        ],
    ),
    (
        "Dinner is ready",
        [
            (0, "d_to_jh", "JH IH1 N ER0", "jinner"),
        ],
    ),
    (
        "I need a new bed",
        [
            (4, "mispronounced", "B AY1 D", "bide"),
        ],
    ),
    (
        "Both of them are nice",
        [
            (0, "th_to_s", "B OW1 S", "boass"),
        ],
    ),
    ("I walk every day", []),
    (
        "The man is singing a song",
        [
            (1, "ae_eh_confusion", "M EH1 N", "men"),
            (3, "ng_to_n", "S IH1 NG IH0 N", "singin"),
            (5, "ng_to_n", "S AO1 N", "sawn"),
        ],
    ),
]

HELD_OUT: list[tuple[str, _Plants]] = [
    (
        "Thank you very much",
        [
            (0, "th_to_t", "T AE1 NG K", "tank"),
        ],
    ),
    (
        "That is my car",
        [
            (0, "th_to_d", "D AE1 T", "dat"),
            (3, "mispronounced", "K ER1", "cur"),
        ],
    ),
    (
        "I have a black dog",
        [
            (3, "vowel_insertion", "B L AE1 K IY0", "blacky"),
            (3, "ae_eh_confusion", "B L EH1 K", "bleck"),
            (3, "omitted", "", ""),
        ],
    ),
    (
        "The hotel is near",
        [
            (1, "h_dropped", "OW0 T EH1 L", "otel"),
        ],
    ),
    (
        "The cats are here",
        [
            (1, "final_s_dropped", "K AE1 T", "cat"),
            (3, "h_as_r", "R IH1 R", "rear"),
            (1, "ae_eh_confusion", "K EH1 T S", "kets"),
        ],
    ),
    (
        "Read the red book",
        [
            (2, "r_as_h", "HH EH1 D", "head"),
        ],
    ),
    (
        "I want a big cup of coffee",
        [
            (3, "omitted", "", ""),
            (4, "mispronounced", "K AA1 P", "cop"),
        ],
    ),
    (
        "My mother thinks about it",
        [
            (2, "th_to_f", "F IH1 NG K S", "finks"),
            (1, "th_to_d", "M AH1 D ER0", "mudder"),
        ],
    ),
    (
        "They cleaned the kitchen",
        [
            (1, "final_ed_dropped", "K L IY1 N", "clean"),
            (0, "th_to_z", "Z EY1", "zay"),
            (1, "ed_extra_syllable", "K L IY1 N IH0 D", "cleen-id"),
        ],
    ),
    (
        "The ship is big",
        [
            (1, "i_ih_confusion", "SH IY1 P", "sheep"),
            (3, "vowel_insertion", "B IH1 G IY0", "biggy"),
        ],
    ),
    (
        "Please sit down",
        [
            (1, "i_ih_confusion", "S IY1 T", "seat"),
        ],
    ),
    (
        "She studies every day",
        [
            (1, "initial_vowel_insertion", "IH0 S T AH1 D IY0 Z", "istuddies"),
        ],
    ),
    (
        "The ticket is cheap",
        [
            (1, "t_to_ch", "CH IH1 K AH0 T", "chicket"),
        ],
    ),
    (
        "Did you eat dinner",
        [
            (3, "d_to_jh", "JH IH1 N ER0", "jinner"),
            (0, "d_to_jh", "JH IH1 D", "jid"),
        ],
    ),
    (
        "Everyone likes the rain",
        [
            (3, "r_as_h", "HH EY1 N", "hain"),
        ],
    ),
    (
        "I think it is raining",
        [
            (1, "th_to_s", "S IH1 NG K", "sink"),
            (1, "th_to_t", "T IH1 NG K", "tink"),
            (4, "ng_to_n", "R EY1 N IH0 N", "rainin"),
        ],
    ),
    (
        "We stopped at the park",
        [
            (1, "final_ed_dropped", "S T AA1 P", "stop"),
            (1, "initial_vowel_insertion", "IH0 S T AA1 P T", "istopped"),
            (1, "ed_extra_syllable", "S T AA1 P IH0 D", "stop-id"),
        ],
    ),
    (
        "Three birds flew home",
        [
            (0, "th_to_f", "F R IY1", "free"),
            (3, "h_dropped", "OW1 M", "ome"),
            (1, "final_s_dropped", "B ER1 D", "bird"),
        ],
    ),
    (
        "These are my shoes",
        [
            (0, "th_to_z", "Z IY1 Z", "zeez"),
        ],
    ),
    (
        "Both hands are cold",
        [
            (0, "th_to_s", "B OW1 S", "boass"),
            (1, "h_as_r", "R AE1 N D Z", "rands"),
        ],
    ),
    (
        "The bread is good",
        [
            (1, "mispronounced", "B R IY1 D", "breed"),
        ],
    ),
    (
        "The tea is hot",
        [
            (1, "t_to_ch", "CH IY1", "chee"),
        ],
    ),
    (
        "The king is young",
        [
            (1, "ng_to_n", "K IH1 N", "kin"),
            (3, "ng_to_n", "Y AH1 N", "yun"),
        ],
    ),
    (
        "I feel well today",
        [
            (1, "final_l_vocalised", "F IY1 W", "feeu"),
            (2, "final_l_vocalised", "W EH1 W", "weu"),
        ],
    ),
]


def _cases(part: str, table: list[tuple[str, _Plants]]) -> list[Case]:
    out = []
    for sentence, plants in table:
        out.append(Case(part, sentence))
        out.extend(Case(part, sentence, *plant) for plant in plants)
    return out


CASES: list[Case] = _cases("tuning", TUNING) + _cases("held_out", HELD_OUT)
