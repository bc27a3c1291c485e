"""One learner turn through the stages: STT → scoring → coaching/conversation → translation → TTS.

Usage::

    engines = await asyncio.to_thread(Engines.load, settings)   # slow; once, at start-up
    pipeline = Pipeline(engines, metrics)
    result = await pipeline.run_audio(pcm, target_text="I think three trees are there")
    result = await pipeline.run_text("How are you?")

Each stage is timed (``timings_ms``), traced (a span named after the stage) and may fail on its
own: a failed stage lands in ``degraded`` and the turn still completes (seed 7.2) — no TTS gives
a text-only answer, no translation keeps the Portuguese templates, an unreachable LLM falls back
to the templates (``llm``). Blocking engines run in worker threads; with a drill target, STT
and scoring run in parallel since scoring needs only the target.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from opentelemetry import trace

from phonicflow_backend import drill_match
from phonicflow_backend.audio import Pcm
from phonicflow_backend.coaching import (
    CoachingText,
    LlmError,
    OllamaClient,
    TemplateCoach,
    VoicePart,
    coaching_prompt,
    flagged_words,
    text_only_coaching,
)
from phonicflow_backend.config import BackendSettings
from phonicflow_backend.conversation import Reply, TemplateConversation, conversation_prompt
from phonicflow_backend.metrics import Metrics
from phonicflow_backend.scoring import (
    Assessment,
    PronunciationScorer,
    ScorerConfig,
    ScoringError,
    create_scorer,
)
from phonicflow_backend.stt import SpeechToText, Transcript, create_stt
from phonicflow_backend.translation import TranslationError, Translator, create_translator
from phonicflow_backend.tts import TextToSpeech, TtsError, create_tts, speak_script
from phonicflow_common.contract import DrillMatch, Language

log = logging.getLogger(__name__)
tracer = trace.get_tracer("phonicflow_backend.pipeline")
T = TypeVar("T")


def _optional(stage: str, future: Future[T]) -> T | None:
    try:
        return future.result()
    except Exception:
        log.exception("engine failed to load; the stage is switched off", extra={"stage": stage})
        return None


@dataclass
class Engines:
    """Everything slow to load, loaded once. ``None`` means the engine is switched off."""

    stt: SpeechToText
    scorer: PronunciationScorer
    translator: Translator | None
    tts: TextToSpeech | None
    llm: OllamaClient | None
    coach: TemplateCoach = field(default_factory=TemplateCoach)
    conversation: TemplateConversation = field(default_factory=TemplateConversation)

    @classmethod
    def load(cls, settings: BackendSettings) -> Engines:
        """Load every engine, in parallel threads (the models load in native code).

        STT and the scorer are required: their failure propagates (the service stays not
        ready, saying why). A TTS engine or translator that cannot load is logged and
        switched off, so turns still complete with ``tts``/``translation`` degraded.
        """
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="load") as pool:
            stt = pool.submit(create_stt, settings)
            scorer = pool.submit(create_scorer, scorer_config(settings))
            translator = pool.submit(create_translator, settings)
            tts = pool.submit(
                create_tts,
                settings.tts_engine,
                espeak_binary=settings.espeak_binary,
                timeout_s=settings.tts_timeout_s,
                piper_voice=settings.piper_voice_path,
            )
            llm = (
                OllamaClient(settings.ollama_url, settings.ollama_model, settings.ollama_timeout_s)
                if settings.ollama_url
                else None
            )
            return cls(
                stt=stt.result(),
                scorer=scorer.result(),
                translator=_optional("translation", translator),
                tts=_optional("tts", tts),
                llm=llm,
            )

    def describe(self) -> dict[str, str]:
        return {
            "stt": self.stt.name,
            "scoring": "pocketsphinx-align",
            "coaching": "ollama" if self.llm else "templates",
            "translation": self.translator.name if self.translator else "none",
            "tts": self.tts.name if self.tts else "none",
        }


@dataclass
class TurnResult:
    transcript: str
    target_text: str | None
    assessment: Assessment | None
    coaching: CoachingText
    reply: Reply
    coaching_audio: bytes | None
    conversational_audio: bytes | None
    degraded: list[str]
    timings_ms: dict[str, int]
    #: drills only: whether the note was the drill sentence (``assessment`` is None when not)
    drill_match: DrillMatch | None = None


class _Stages:
    """Times, traces and records the failures of one turn's stages."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.timings: dict[str, int] = {}
        self.degraded: list[str] = []

    def fail(self, stage: str, exc: BaseException) -> None:
        if stage not in self.degraded:
            self.degraded.append(stage)
        self.metrics.stage_failures.labels(stage).inc()
        log.warning("stage degraded", extra={"stage": stage, "error": str(exc)[:300]})

    async def run(self, stage: str, work: Callable[[], Awaitable[T]]) -> T:
        start = time.perf_counter()
        with tracer.start_as_current_span(stage) as span:
            try:
                return await work()
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(trace.Status(trace.StatusCode.ERROR, str(exc)[:200]))
                raise
            finally:
                elapsed = time.perf_counter() - start
                self.timings[stage] = self.timings.get(stage, 0) + round(elapsed * 1000)
                self.metrics.stage_seconds.labels(stage).observe(elapsed)


def scorer_config(settings: BackendSettings) -> ScorerConfig:
    """The scorer's defaults, with the second opinion off when the settings say so."""
    if settings.second_opinion:
        return ScorerConfig()
    return ScorerConfig(whisper_drop_nats=0, whisper_add_nats=0)


class Pipeline:
    def __init__(self, engines: Engines, metrics: Metrics) -> None:
        self.engines = engines
        self.metrics = metrics

    async def run_audio(
        self, pcm: Pcm, target_text: str | None, language: Language | None = None
    ) -> TurnResult:
        """Overlaps what does not depend on each other: a drill is scored while STT runs, and
        the conversational reply is written and spoken while the free speech is scored. The
        coaching voice note speaks ``language``, the learner's (English when unknown)."""
        stages = _Stages(self.metrics)
        start = time.perf_counter()
        with tracer.start_as_current_span("pipeline") as span:
            span.set_attribute("audio.seconds", round(pcm.seconds, 3))
            span.set_attribute("pipeline.drill", target_text is not None)
            drill_score = (
                asyncio.create_task(self._score(stages, pcm, target_text)) if target_text else None
            )
            heard = await self._stt(stages, pcm, target_text)
            transcript = heard.text
            match: DrillMatch | None = None
            assessment: Assessment | None = None
            if drill_score is not None and target_text is not None:
                # scoring ran beside STT: awaiting it here costs little, and the reply must know
                # whether this was the drill at all
                assessment = await drill_score
                match = self._drill_match(target_text, heard, assessment)
                if match == "different_sentence":
                    assessment = None  # its verdicts are for words nobody said
                elif assessment is not None:
                    assessment = await self._second_opinion(stages, assessment, target_text, heard)
            # a drill's reply knows its score (it must not praise a note the coaching corrects)
            score = assessment.overall_score if match == "matched" and assessment else None
            reply_task = asyncio.create_task(
                self._reply_with_audio(stages, transcript, drill=match == "matched", score=score)
            )
            unsure = target_text is None and drill_match.unreliable(heard)
            if target_text is None and transcript and not unsure:
                assessment = await self._score(stages, pcm, transcript)
                if assessment is not None:
                    assessment = await self._second_opinion(stages, assessment, transcript, heard)
            if match == "different_sentence" and target_text is not None:
                coaching = await stages.run(
                    "coaching",
                    lambda: self._not_the_drill(transcript, target_text),
                )
            elif unsure:
                # free speech the scorer would align to a transcript that is probably wrong:
                # verdicts on it would contradict what the learner said, so none are given
                coaching = await stages.run("coaching", lambda: self._unsure(transcript))
            else:
                coaching = await self._coach(stages, assessment, transcript, target_text)
            coaching_audio = await self._speak(stages, coaching.for_voice(language))
            reply, reply_audio = await reply_task
        elapsed = time.perf_counter() - start
        stages.timings["total"] = round(elapsed * 1000)
        self.metrics.stage_seconds.labels("total").observe(elapsed)
        self.metrics.turns.labels("audio").inc()
        if assessment is not None:
            self.metrics.score.observe(assessment.overall_score)
        return TurnResult(transcript, target_text, assessment, coaching, reply, coaching_audio,
                          reply_audio, stages.degraded, stages.timings, match)  # fmt: skip

    async def _not_the_drill(self, transcript: str, target: str) -> CoachingText:
        # templates only: an LLM told the learner's words would coach them anyway
        return self.engines.coach.different_sentence(transcript=transcript, target_text=target)

    async def _unsure(self, transcript: str) -> CoachingText:
        return self.engines.coach.unsure_transcript(transcript=transcript)

    def _drill_match(
        self, target: str, heard: Transcript, assessment: Assessment | None
    ) -> DrillMatch:
        evidence = drill_match.measure(target, heard, assessment)
        match = drill_match.judge(evidence)
        span = trace.get_current_span()
        span.set_attribute("drill.match", match)
        if evidence.coverage is not None:
            span.set_attribute("drill.coverage", round(evidence.coverage, 3))
        self.metrics.drill_match.labels(match).inc()
        log.info(
            "drill note judged",
            extra={"drill_match": match, "coverage": evidence.coverage,
                   "aligned": evidence.aligned, "low_share": round(evidence.low_share, 3)},
        )  # fmt: skip
        return match

    async def _reply_with_audio(
        self,
        stages: _Stages,
        text: str,
        *,
        drill: bool,
        score: float | None = None,
    ) -> tuple[Reply, bytes | None]:
        reply = await self._converse(stages, text, drill=drill, score=score)
        return reply, await self._speak(stages, [(reply.en, "en")])

    async def run_text(self, text: str, language: Language | None = None) -> TurnResult:
        stages = _Stages(self.metrics)
        start = time.perf_counter()
        with tracer.start_as_current_span("pipeline") as span:
            span.set_attribute("pipeline.text_only", True)
            coaching = text_only_coaching()
            (coaching_audio, (reply, reply_audio)) = await asyncio.gather(
                self._speak(stages, coaching.for_voice(language)),
                self._reply_with_audio(stages, text, drill=False),
            )
        stages.timings["total"] = round((time.perf_counter() - start) * 1000)
        self.metrics.turns.labels("text").inc()
        return TurnResult(text, None, None, coaching, reply, coaching_audio, reply_audio,
                          stages.degraded, stages.timings)  # fmt: skip

    async def _stt(self, stages: _Stages, pcm: Pcm, target: str | None) -> Transcript:
        async def work() -> Transcript:
            heard = await asyncio.to_thread(self.engines.stt.listen, pcm.samples, pcm.rate, target)
            span = trace.get_current_span()
            span.set_attribute("stt.engine", self.engines.stt.name)
            span.set_attribute("stt.words", len(heard.text.split()))
            if heard.avg_logprob is not None:
                span.set_attribute("stt.avg_logprob", round(heard.avg_logprob, 3))
            return heard

        try:
            return await stages.run("stt", work)
        except Exception as exc:
            stages.fail("stt", exc)
            return Transcript("")

    async def _score(self, stages: _Stages, pcm: Pcm, expected: str) -> Assessment | None:
        async def work() -> Assessment:
            result = await asyncio.to_thread(
                self.engines.scorer.assess, pcm.samples, pcm.rate, expected
            )
            span = trace.get_current_span()
            span.set_attribute("scoring.overall", result.overall_score)
            span.set_attribute("scoring.words", len(result.words))
            span.set_attribute("scoring.flagged", len(flagged_words(result)))
            span.set_attribute("scoring.aligned", result.aligned)
            return result

        try:
            return await stages.run("scoring", work)
        except ScoringError as exc:
            # Unusable audio (silence, too short): the coaching says so; not an engine failure.
            log.info("not scored", extra={"reason": str(exc)})
            return None
        except Exception as exc:
            stages.fail("scoring", exc)
            return None

    async def _second_opinion(
        self, stages: _Stages, assessment: Assessment, expected: str, heard: Transcript
    ) -> Assessment:
        """The verdicts checked against Whisper's sense of the words (scoring/_second_opinion.py);
        the scorer's own when Whisper did not run or the check fails."""
        if heard.sentences is None:
            return assessment
        sentences = heard.sentences

        async def work() -> Assessment:
            revised, said = await asyncio.to_thread(
                self.engines.scorer.second_opinion, assessment, expected, sentences
            )
            span = trace.get_current_span()
            span.set_attribute("second_opinion.asked", len(said))
            changed = sum(a != b for a, b in zip(assessment.words, revised.words, strict=True))
            span.set_attribute("second_opinion.changed", changed)
            return revised

        try:
            return await stages.run("second_opinion", work)
        except Exception as exc:  # a check, not a stage the learner misses
            log.warning("second opinion failed", extra={"error": repr(exc)})
            return assessment

    async def _translate(self, stages: _Stages, text: str) -> str:
        translator = self.engines.translator
        if translator is None:
            raise TranslationError("no translator configured")

        async def work() -> str:
            trace.get_current_span().set_attribute("translation.engine", translator.name)
            return await asyncio.to_thread(translator.translate, text)

        return await stages.run("translation", work)

    async def _coach(
        self, stages: _Stages, assessment: Assessment | None, transcript: str, target: str | None
    ) -> CoachingText:
        async def templates() -> CoachingText:
            trace.get_current_span().set_attribute("coaching.source", "templates")
            return self.engines.coach.coach(assessment, transcript=transcript, target_text=target)

        fallback = await stages.run("coaching", templates)
        texts = await self._llm_in_both_languages(
            stages, lambda: coaching_prompt(assessment, transcript, target)
        )
        if texts is None:
            return fallback
        return CoachingText(*texts, source="llm", english_words=fallback.english_words)

    async def _converse(
        self, stages: _Stages, text: str, *, drill: bool, score: float | None = None
    ) -> Reply:
        async def templates() -> Reply:
            return self.engines.conversation.reply(text, drill=drill, score=score)

        fallback = await stages.run("conversation", templates)
        if not text.strip():
            return fallback
        texts = await self._llm_in_both_languages(stages, lambda: conversation_prompt(text))
        return fallback if texts is None else Reply(*texts, source="llm")

    async def _llm_in_both_languages(
        self, stages: _Stages, prompt: Callable[[], str]
    ) -> tuple[str, str] | None:
        """The LLM's English and its translation, or None (stage marked degraded) to fall back."""
        llm = self.engines.llm
        if llm is None:
            return None
        try:
            english = await stages.run("llm", lambda: llm.generate(prompt()))
        except LlmError as exc:
            stages.fail("llm", exc)
            return None
        try:
            return english, await self._translate(stages, english)
        except TranslationError as exc:
            stages.fail("translation", exc)
            return None

    async def _speak(self, stages: _Stages, parts: list[VoicePart]) -> bytes | None:
        """The parts spoken as one WAV, or None with ``tts`` degraded."""
        tts = self.engines.tts
        if tts is None:
            stages.fail("tts", TtsError("TTS_ENGINE=none"))
            return None

        async def work() -> bytes:
            span = trace.get_current_span()
            span.set_attribute("tts.engine", tts.name)
            span.set_attribute("tts.chars", sum(len(text) for text, _ in parts))
            span.set_attribute("tts.languages", sorted({language for _, language in parts}))
            return await speak_script(tts, parts)

        try:
            return await stages.run("tts", work)
        except Exception as exc:
            stages.fail("tts", exc)
            return None
