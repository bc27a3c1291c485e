"""Everything the bot says, in English and Brazilian Portuguese.

Usage::

    from phonicflow_bot.i18n import text, detect_language
    lang = detect_language(update.effective_user.language_code)   # "pt" or "en"
    await message.reply_html(text(lang, "rate_limited", seconds=12))

Texts are HTML (the bot sends with ``parse_mode=HTML``); placeholders are filled with values
that the caller has already escaped when they come from a learner or the backend.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["en", "pt"]
LANGUAGES: tuple[Language, ...] = ("en", "pt")
DEFAULT_LANGUAGE: Language = "en"

_TEXTS: dict[str, dict[Language, str]] = {
    "start": {
        "en": "👋 Hi {name}! I'm <b>PhonicFlow</b>, your English pronunciation coach.\n\n"
        "🎙 Send me a <b>voice note</b> in English and I'll tell you what I heard, how each "
        "word sounded, and how to improve — in English and Portuguese, with audio.\n"
        "🎯 Try /practice for a sentence to repeat. /help lists everything I can do.",
        "pt": "👋 Oi, {name}! Eu sou o <b>PhonicFlow</b>, seu treinador de pronúncia em inglês.\n\n"
        "🎙 Mande um <b>áudio</b> falando em inglês e eu digo o que ouvi, como ficou cada "
        "palavra e como melhorar — em inglês e português, com áudio.\n"
        "🎯 Use /practice para receber uma frase para repetir. /help mostra tudo o que sei fazer.",
    },
    "help": {
        "en": "<b>What I can do</b>\n"
        "🎙 Send a voice note, audio file or video note in English: I score your pronunciation.\n"
        "💬 Send text: I answer and keep the conversation going.\n\n"
        "/start – start a new session\n/practice – get a sentence to practise "
        "(/practice th for TH, also h_r, i_ih, final_s_ed, vowel_insertion)\n"
        "/feedback – repeat your last feedback\n/history – your recent turns\n"
        "/status – your session\n/new – start a new conversation\n"
        "/progress – your progress per sound\n/goal – your daily goal (/goal 5)\n"
        "/remind – a daily reminder (/remind 19:00, /remind off)\n"
        "/export – everything I keep about you, as a file\n"
        "/language – English or Portuguese\n/delete – erase everything about you\n"
        "/help – this message",
        "pt": "<b>O que eu sei fazer</b>\n"
        "🎙 Mande um áudio, arquivo de áudio ou mensagem de vídeo (a bolinha) em inglês: eu avalio sua pronúncia.\n"
        "💬 Mande texto: eu respondo e a conversa continua.\n\n"
        "/start – começar uma nova sessão\n/practice – receber uma frase para praticar "
        "(/practice th para o TH; também h_r, i_ih, final_s_ed, vowel_insertion)\n"
        "/feedback – repetir o último feedback\n/history – suas últimas mensagens\n"
        "/status – sua sessão\n/new – começar uma nova conversa\n"
        "/progress – seu progresso por som\n/goal – sua meta diária (/goal 5)\n"
        "/remind – um lembrete por dia (/remind 19:00, /remind off)\n"
        "/export – tudo o que eu guardo sobre você, em um arquivo\n"
        "/language – inglês ou português\n/delete – apagar tudo sobre você\n"
        "/help – esta mensagem",
    },
    "status": {
        "en": "📊 <b>Your session</b>\nStarted: {created}\nTurns: {turns}\nMode: {mode}\n"
        "Interface: English\nSession expires after {hours} h without activity.",
        "pt": "📊 <b>Sua sessão</b>\nInício: {created}\nMensagens: {turns}\nModo: {mode}\n"
        "Idioma: português\nA sessão expira após {hours} h sem atividade.",
    },
    "mode_free": {"en": "free conversation", "pt": "conversa livre"},
    "mode_practice": {"en": "practice", "pt": "prática"},
    "new_session": {
        "en": "🆕 New conversation started. Send me a voice note!",
        "pt": "🆕 Nova conversa iniciada. Mande um áudio!",
    },
    "session_expired": {
        "en": "⏰ Your previous session expired after a while without activity, so I started a "
        "new one.",
        "pt": "⏰ Sua sessão anterior expirou por falta de atividade, então comecei uma nova.",
    },
    "history_empty": {
        "en": "📭 No turns yet in this session. Send me a voice note!",
        "pt": "📭 Ainda não há mensagens nesta sessão. Mande um áudio!",
    },
    "history_header": {
        "en": "📜 <b>History</b> (most recent first) — page {page} of {pages}",
        "pt": "📜 <b>Histórico</b> (mais recentes primeiro) — página {page} de {pages}",
    },
    "history_you": {"en": "You", "pt": "Você"},
    "history_score": {"en": "score", "pt": "nota"},
    "feedback_none": {
        "en": "No feedback yet. Send me a voice note first!",
        "pt": "Ainda não tenho feedback. Mande um áudio primeiro!",
    },
    "delete_confirm": {
        "en": "⚠️ This erases your session, your history and your recordings, here and on the "
        "server. Are you sure?",
        "pt": "⚠️ Isso vai apagar sua sessão, seu histórico e suas gravações, aqui e no servidor. "
        "Tem certeza?",
    },
    "delete_done": {
        "en": "🗑 Done: everything about you has been erased. Send /start to begin again.",
        "pt": "🗑 Pronto: tudo sobre você foi apagado. Envie /start para recomeçar.",
    },
    "delete_cancelled": {
        "en": "👍 Nothing was deleted.",
        "pt": "👍 Nada foi apagado.",
    },
    "language_choose": {
        "en": "🌐 Choose the language of my messages:",
        "pt": "🌐 Escolha o idioma das minhas mensagens:",
    },
    "language_set": {
        "en": "✅ I'll talk to you in English.",
        "pt": "✅ Vou falar com você em português.",
    },
    "practice_target": {
        "en": "🎯 <b>Say this sentence</b> and send it as a voice note:\n\n<i>{target}</i>\n\n💡 {hint}",
        "pt": "🎯 <b>Diga esta frase</b> e mande como áudio:\n\n<i>{target}</i>\n\n💡 {hint}",
    },
    "try_again_prompt": {
        "en": "🔁 Try again! Say:\n\n<i>{target}</i>",
        "pt": "🔁 Tente de novo! Diga:\n\n<i>{target}</i>",
    },
    "try_again_free": {
        "en": "🔁 Go ahead: send me another voice note.",
        "pt": "🔁 Pode mandar outro áudio!",
    },
    "heard": {"en": "🗣 <b>I heard:</b> {transcript}", "pt": "🗣 <b>Eu ouvi:</b> {transcript}"},
    "target": {"en": "🎯 <b>Target:</b> {target}", "pt": "🎯 <b>Frase:</b> {target}"},
    "heard_nothing": {"en": "(nothing I could understand)", "pt": "(nada que eu entendesse)"},
    "score": {"en": "📈 <b>Score:</b> {score}/100", "pt": "📈 <b>Nota:</b> {score}/100"},
    "words": {"en": "<b>Word by word</b>", "pt": "<b>Palavra por palavra</b>"},
    "word_heard": {"en": "heard", "pt": "ouvi"},
    "word_missing": {"en": "not heard", "pt": "não ouvi"},
    "word_unclear": {"en": "not clear", "pt": "não ficou claro"},
    "word_not_checked": {"en": "couldn't check this one", "pt": "não deu para avaliar"},
    "coaching": {"en": "🧑‍🏫 <b>Coaching</b>", "pt": "🧑‍🏫 <b>Dicas</b>"},
    "reply": {"en": "💬 <b>Reply</b>", "pt": "💬 <b>Resposta</b>"},
    "btn_replay": {"en": "🔊 Replay", "pt": "🔊 Ouvir de novo"},
    "btn_try_again": {"en": "🔁 Try again", "pt": "🔁 Tentar de novo"},
    "btn_hear_right": {"en": "🎯 Hear it right", "pt": "🎯 Ouvir o certo"},
    "btn_wrong_verdict": {"en": "🙋 Wrong verdict?", "pt": "🙋 Avaliei errado?"},
    "btn_consent_yes": {"en": "✅ Yes, keep them", "pt": "✅ Pode guardar"},
    "btn_consent_no": {"en": "No, thanks", "pt": "Agora não"},
    "btn_history": {"en": "📜 History", "pt": "📜 Histórico"},
    "btn_newer": {"en": "◀ Newer", "pt": "◀ Mais recentes"},
    "btn_older": {"en": "Older ▶", "pt": "Mais antigas ▶"},
    "btn_delete_yes": {"en": "🗑 Yes, delete everything", "pt": "🗑 Sim, apagar tudo"},
    "btn_cancel": {"en": "Cancel", "pt": "Cancelar"},
    "btn_next_sentence": {"en": "⏭ Another sentence", "pt": "⏭ Outra frase"},
    "btn_free_speech": {"en": "🗣 Feedback on what I said", "pt": "🗣 Avaliar o que eu falei"},
    "free_speech_gone": {
        "en": "That note can't be scored any more. Just send a new voice note!",
        "pt": "Não dá mais para avaliar esse áudio. É só mandar um áudio novo!",
    },
    "rate_limited": {
        "en": "🐢 You're sending messages very fast. Please wait {seconds} s and try again.",
        "pt": "🐢 Você está mandando mensagens muito rápido. Espere {seconds} s e tente de novo.",
    },
    "too_long_to_score": {
        "en": "⏱ That recording is longer than I can score. Please send a shorter one.",
        "pt": "⏱ Essa gravação é longa demais para eu avaliar. Mande uma mais curta, por favor.",
    },
    "too_big": {
        "en": "📦 That file is too big ({size} MB). The limit is {limit} MB.",
        "pt": "📦 Esse arquivo é grande demais ({size} MB). O limite é {limit} MB.",
    },
    "too_long": {
        "en": "⏱ That recording is too long ({duration} s): I can score up to {limit} s. "
        "Please send a shorter one.",
        "pt": "⏱ Essa gravação é longa demais ({duration} s): eu avalio até {limit} s. "
        "Mande uma mais curta, por favor.",
    },
    "unknown_command": {
        "en": "🤷 I don't know the command {command}. Send /help to see what I can do.",
        "pt": "🤷 Não conheço o comando {command}. Mande /help para ver o que eu sei fazer.",
    },
    "unsupported": {
        "en": "🤔 I can only listen to voice notes, audio files and video notes (or send me "
        "text). Please record a voice note.",
        "pt": "🤔 Eu só consigo ouvir áudios, arquivos de áudio e mensagens de vídeo (a bolinha), ou ler texto. "
        "Grave um áudio, por favor.",
    },
    "bad_audio": {
        "en": "🔇 I couldn't read that audio: it seems empty, cut off or damaged. Please record it "
        "again.",
        "pt": "🔇 Não consegui ler esse áudio: parece vazio, cortado ou danificado. Grave de novo, "
        "por favor.",
    },
    "service_down": {
        "en": "😓 I can't reach my pronunciation service right now. Please try again in a minute.",
        "pt": "😓 Não consigo acessar meu serviço de pronúncia agora. Tente de novo em um minuto.",
    },
    "service_slow": {
        "en": "⌛ My pronunciation service is taking too long. Please try again in a minute.",
        "pt": "⌛ Meu serviço de pronúncia está demorando demais. Tente de novo em um minuto.",
    },
    "unexpected": {
        "en": "💥 Something went wrong on my side. Please try again.",
        "pt": "💥 Algo deu errado do meu lado. Tente de novo, por favor.",
    },
    "label_which_word": {
        "en": "🙋 Which word did I judge wrong? Tap it:",
        "pt": "🙋 Qual palavra eu avaliei errado? Toque nela:",
    },
    "label_not_latest": {
        "en": "🙋 I can only take corrections on your latest voice note.",
        "pt": "🙋 Só consigo receber correções do seu último áudio.",
    },
    "label_consent_ask": {
        "en": "🙋 To learn from your correction I keep that voice note with my verdict and your "
        "correction, as an example to test the coach against. It is never shared, and /delete "
        "erases it. May I keep the notes you correct, from your next one on?",
        "pt": "🙋 Pra aprender com a sua correção, eu guardo o áudio junto com a minha avaliação "
        "e a sua correção, como exemplo pra testar o coach. Nunca é compartilhado, e o /delete "
        "apaga tudo. Posso guardar os áudios que você corrigir, a partir do próximo?",
    },
    "label_consent_given": {
        "en": "✅ Thanks! From your next voice note on, tap 🙋 under the feedback when I judge "
        "a word wrong.",
        "pt": "✅ Valeu! A partir do próximo áudio, toque em 🙋 embaixo da avaliação quando eu "
        "avaliar uma palavra errado.",
    },
    "label_consent_declined": {
        "en": "No problem: I keep none of your notes.",
        "pt": "Sem problema: não guardo nenhum áudio seu.",
    },
    "label_saved_said_right": {
        "en": "✅ Thanks, noted: you said “{word}” right and I got it wrong. It goes into the "
        "examples I am tested against.",
        "pt": "✅ Valeu, anotado: você falou “{word}” certo e eu avaliei errado. Isso entra nos "
        "exemplos que uso pra me testar.",
    },
    "label_saved_said_wrong": {
        "en": "✅ Thanks, noted: “{word}” was not quite right and I missed it. It goes into the "
        "examples I am tested against.",
        "pt": "✅ Valeu, anotado: “{word}” não saiu certo e eu deixei passar. Isso entra nos "
        "exemplos que uso pra me testar.",
    },
    "label_note_gone": {
        "en": "🙋 I don't have that voice note any more: I keep only the notes sent after you "
        "agreed, for 48 hours. Send it again and correct me on the new one.",
        "pt": "🙋 Esse áudio eu não tenho mais: só guardo os áudios enviados depois que você "
        "concordou, por 48 horas. Mande de novo e me corrija no novo.",
    },
    "nothing_to_hear": {
        "en": "🎯 Every word of that note came through well: nothing to practise there.",
        "pt": "🎯 Todas as palavras desse áudio saíram bem: não tem nada pra treinar aí.",
    },
    "nothing_to_replay": {
        "en": "🔇 I have no audio to replay for that turn.",
        "pt": "🔇 Não tenho áudio para repetir dessa mensagem.",
    },
    "practice_focus_unknown": {
        "en": "🤔 I have no sentences for “{focus}”. Pick a sound: /practice th, "
        "/practice h_r, /practice i_ih, /practice final_s_ed, /practice vowel_insertion "
        "— or just /practice.",
        "pt": "🤔 Não tenho frases para “{focus}”. Escolha um som: /practice th, "
        "/practice h_r, /practice i_ih, /practice final_s_ed, /practice vowel_insertion "
        "— ou só /practice.",
    },
    "practice_unavailable": {
        "en": "😓 I couldn't get a practice sentence right now. Please try again in a minute.",
        "pt": "😓 Não consegui uma frase para praticar agora. Tente de novo em um minuto.",
    },
    # -- progress, goal, reminders, export (issue 15) --
    "status_progress": {
        "en": "🔥 Streak: {streak} · Today: {today}/{goal} notes (/goal to change)",
        "pt": "🔥 Sequência: {streak} · Hoje: {today}/{goal} áudios (mude com /goal)",
    },
    "progress_caption": {
        "en": "🔥 Streak: <b>{streak}</b> · today {today}/{goal} notes",
        "pt": "🔥 Sequência: <b>{streak}</b> · hoje {today}/{goal} áudios",
    },
    "progress_sounds": {
        "en": "💪 Best: {best} ({best_pct}%) · 🎯 Next: {weakest} → /practice",
        "pt": "💪 Melhor som: {best} ({best_pct}%) · 🎯 Próximo: {weakest} → /practice",
    },
    "progress_no_sounds": {
        "en": "🎯 Send a voice note or try /practice: your sounds show up here.",
        "pt": "🎯 Mande um áudio ou use /practice: seus sons aparecem aqui.",
    },
    "progress_none": {
        "en": "📭 No progress yet: send me a voice note or try /practice, then /progress shows "
        "how you're doing.",
        "pt": "📭 Ainda não tenho seu progresso: mande um áudio ou use /practice, depois é só "
        "pedir /progress.",
    },
    "goal_show": {
        "en": "🎯 Your daily goal is <b>{goal}</b> notes. Change it with /goal 10 (1 to 100).",
        "pt": "🎯 Sua meta diária é de <b>{goal}</b> áudios. Para mudar, mande /goal 10 (de 1 a "
        "100).",
    },
    "goal_set": {
        "en": "✅ Daily goal: <b>{goal}</b> notes a day.",
        "pt": "✅ Meta diária: <b>{goal}</b> áudios por dia.",
    },
    "goal_invalid": {
        "en": "🤔 Give a number of notes from 1 to 100, e.g. /goal 5.",
        "pt": "🤔 Mande um número de áudios de 1 a 100, por exemplo /goal 5.",
    },
    "remind_off_now": {
        "en": "⏰ Reminders are off. /remind 19:00 sends one nudge a day at 19:00 your time "
        "when your goal isn't met yet, and a summary of your week on Sundays. If your time zone "
        "isn't {zone}, add it: /remind 19:00 Europe/Lisbon or /remind 19:00 -03:00.",
        "pt": "⏰ Os lembretes estão desligados. Com /remind 19:00 eu mando um lembrete por dia "
        "às 19:00 no seu horário, quando você ainda não bateu a meta, e um resumo da semana aos "
        "domingos. Se o seu fuso não for {zone}, informe: /remind 19:00 Europe/Lisbon ou "
        "/remind 19:00 -03:00.",
    },
    "remind_on": {
        "en": "⏰ I'll nudge you at <b>{time}</b> ({zone}) on days your goal isn't met yet, and "
        "send a summary of your week on Sundays. /remind off stops them.",
        "pt": "⏰ Vou te lembrar às <b>{time}</b> ({zone}) nos dias em que a meta ainda não foi "
        "batida, e mandar um resumo da semana aos domingos. Para parar: /remind off.",
    },
    "remind_stopped": {
        "en": "🔕 Reminders off. /remind 19:00 turns them on again.",
        "pt": "🔕 Lembretes desligados. Para religar: /remind 19:00.",
    },
    "remind_invalid": {
        "en": "🤔 I didn't get that time. Try /remind 19:00, /remind 7:30 America/Sao_Paulo or "
        "/remind off.",
        "pt": "🤔 Não entendi o horário. Tente /remind 19:00, /remind 7:30 America/Sao_Paulo ou "
        "/remind off.",
    },
    "remind_bad_zone": {
        "en": "🤔 I don't know the time zone “{zone}”. Use a name like America/Sao_Paulo or an "
        "offset like -03:00.",
        "pt": "🤔 Não conheço o fuso “{zone}”. Use um nome como America/Sao_Paulo ou um "
        "deslocamento como -03:00.",
    },
    "reminder_daily": {
        "en": "⏰ Time for a little English! Today: {today}/{goal} notes. 🔥 Streak: {streak}.\n"
        "Send me a voice note, or try /practice.",
        "pt": "⏰ Bora praticar um pouquinho de inglês? Hoje: {today}/{goal} áudios. 🔥 "
        "Sequência: {streak}.\nMande um áudio ou use /practice.",
    },
    "reminder_daily_first": {
        "en": "⏰ Time for a little English! Today: {today}/{goal} notes — start a streak "
        "today.\nSend me a voice note, or try /practice.",
        "pt": "⏰ Bora praticar um pouquinho de inglês? Hoje: {today}/{goal} áudios — comece "
        "uma sequência hoje!\nMande um áudio ou use /practice.",
    },
    "reminder_weekly": {
        "en": "📅 <b>Your week</b> ({start} – {end})\n🎙 {notes} on {days}",
        "pt": "📅 <b>Sua semana</b> ({start} – {end})\n🎙 {notes} em {days}",
    },
    "reminder_weekly_best": {
        "en": "💪 Best: {sound} ({pct}%)",
        "pt": "💪 Melhor som: {sound} ({pct}%)",
    },
    "reminder_weekly_weakest": {
        "en": "🎯 To work on: {sound} ({pct}%) → /practice",
        "pt": "🎯 Para treinar: {sound} ({pct}%) → /practice",
    },
    "export_caption": {
        "en": "📦 Everything I keep about you, as JSON. /delete erases it all.",
        "pt": "📦 Tudo o que eu guardo sobre você, em JSON. /delete apaga tudo.",
    },
    "export_none": {
        "en": "📭 I keep nothing about you yet.",
        "pt": "📭 Ainda não guardo nada sobre você.",
    },
    "practice_reason_weakest": {
        "en": "📌 Your weakest sound right now: <b>{sound}</b>.",
        "pt": "📌 Seu som mais difícil agora: <b>{sound}</b>.",
    },
    "practice_reason_not_tried": {
        "en": "📌 A sound you haven't practised yet: <b>{sound}</b>.",
        "pt": "📌 Um som que você ainda não treinou: <b>{sound}</b>.",
    },
    "practice_reason_review": {
        "en": "📌 You've mastered every sound — a review of <b>{sound}</b>.",
        "pt": "📌 Você dominou todos os sons — uma revisão de <b>{sound}</b>.",
    },
    "note_progress": {
        "en": "🔥 Today {today}/{goal} · streak: {streak}",
        "pt": "🔥 Hoje {today}/{goal} · sequência: {streak}",
    },
    "goal_just_met": {
        "en": "🎉 Daily goal reached! See how you're doing with /progress.",
        "pt": "🎉 Meta do dia batida! Veja seu progresso em /progress.",
    },
    "drill_outcome": {
        "en": "🎯 {sound}: {right} of your last {attempts} right.",
        "pt": "🎯 {sound}: {right} de {attempts} certas nas últimas tentativas.",
    },
    "drill_mastered": {
        "en": "🏆 You've mastered <b>{sound}</b> ({right} of the last {attempts} right)! The next "
        "sentence moves on to another sound.",
        "pt": "🏆 Você dominou <b>{sound}</b> ({right} de {attempts} certas)! A próxima frase já "
        "é de outro som.",
    },
    "drill_different": {
        "en": "🤔 <b>That didn't sound like the practice sentence</b>, so I didn't score it. "
        "Send it again, or tap below for feedback on what you said:",
        "pt": "🤔 <b>Não pareceu a frase do exercício</b>, então não dei nota. Mande de novo, "
        "ou toque abaixo para eu avaliar o que você falou:",
    },
}

#: Words whose form depends on a count: (one, many) per language.
_PLURALS: dict[str, dict[Language, tuple[str, str]]] = {
    "day": {"en": ("{n} day", "{n} days"), "pt": ("{n} dia", "{n} dias")},
    "note": {"en": ("{n} note", "{n} notes"), "pt": ("{n} áudio", "{n} áudios")},
}

#: Telegram's command menu, one description per language (setMyCommands).
COMMANDS: dict[str, dict[Language, str]] = {
    "start": {"en": "Start a new session", "pt": "Começar uma nova sessão"},
    "practice": {"en": "Get a sentence to practise", "pt": "Receber uma frase para praticar"},
    "feedback": {"en": "Repeat your last feedback", "pt": "Repetir o último feedback"},
    "history": {"en": "Your recent turns", "pt": "Suas últimas mensagens"},
    "status": {"en": "Your session", "pt": "Sua sessão"},
    "new": {"en": "Start a new conversation", "pt": "Começar uma nova conversa"},
    "language": {"en": "English or Portuguese", "pt": "Inglês ou português"},
    "delete": {"en": "Erase everything about you", "pt": "Apagar tudo sobre você"},
    "progress": {"en": "Your progress per sound", "pt": "Seu progresso por som"},
    "goal": {"en": "Your daily goal", "pt": "Sua meta diária"},
    "remind": {"en": "A daily reminder", "pt": "Um lembrete por dia"},
    "export": {"en": "Your data as a file", "pt": "Seus dados em um arquivo"},
    "help": {"en": "What I can do", "pt": "O que eu sei fazer"},
}


def detect_language(language_code: str | None) -> Language:
    """Telegram's ``language_code`` (IETF tag) → ``"pt"`` for any Portuguese, else ``"en"``."""
    if language_code and language_code.lower().startswith("pt"):
        return "pt"
    return DEFAULT_LANGUAGE


def as_language(value: str | None) -> Language:
    """A stored language string back to :data:`Language` (unknown → default)."""
    return "pt" if value == "pt" else DEFAULT_LANGUAGE


def text(lang: str, key: str, **values: object) -> str:
    """The text ``key`` in ``lang`` (falling back to English) with ``values`` filled in."""
    variants = _TEXTS[key]
    template = variants.get(as_language(lang), variants[DEFAULT_LANGUAGE])
    return template.format(**values) if values else template


def count(lang: str, word: str, n: int) -> str:
    """``n`` with ``word`` in the right form: count("pt", "day", 1) → "1 dia"."""
    one, many = _PLURALS[word][as_language(lang)]
    return (one if n == 1 else many).format(n=n)


def text_keys() -> list[str]:
    """Every text key (tests check that both languages have each)."""
    return list(_TEXTS)


def variants(key: str) -> dict[Language, str]:
    return dict(_TEXTS[key])
