// PhonicFlow Telegram emulator chat page: plain JS over the /_emu/ control API.
// Everything the bot does arrives through one long-polled feed (/_emu/events), so the page
// shows exactly what the emulator recorded, in order. Text is inserted as text nodes only.
"use strict";

const POLL_SECONDS = 25;
const ACTION_SHOW_MS = 5000; // Telegram clients show a chat action for ~5 s
const TOAST_MS = 3500;
const ACTION_LABELS = {
  typing: "typing…",
  record_voice: "recording a voice message…",
  upload_voice: "sending a voice message…",
  upload_document: "sending a file…",
  record_video_note: "recording a video message…",
  upload_video_note: "sending a video message…",
  upload_photo: "sending a photo…",
  record_video: "recording a video…",
  upload_video: "sending a video…",
  choose_sticker: "choosing a sticker…",
  find_location: "finding a location…",
};

const state = {
  bot: null,
  users: [],
  current: null, // user id
  cursor: 0,
  nodes: new Map(), // message_id -> element, for the current chat
  actionTimer: null,
  recorder: null,
  recordStarted: 0,
};

const $ = (id) => document.getElementById(id);

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new Error(body?.error || `${response.status} ${response.statusText}`);
  return body;
}

const postJSON = (path, body) =>
  api(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

function initials(name) {
  return (name || "?").split(/\s+/).map((w) => w[0]).join("").slice(0, 2).toUpperCase();
}

function hue(id) {
  return (Number(id) * 47) % 360;
}

function timeOf(date) {
  return new Date(date * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function toast(text, alert = false) {
  const el = $("toast");
  el.textContent = text;
  el.classList.toggle("alert", alert);
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), alert ? TOAST_MS * 2 : TOAST_MS);
}

// ---- users ---------------------------------------------------------------------------------

async function loadUsers() {
  state.users = await api("/_emu/users");
  const list = $("users");
  list.replaceChildren();
  for (const user of state.users) {
    const li = document.createElement("li");
    li.dataset.userId = user.id;
    li.dataset.testid = "user";
    li.classList.toggle("active", user.id === state.current);
    const avatar = document.createElement("div");
    avatar.className = "avatar";
    avatar.style.background = `hsl(${hue(user.id)} 60% 55%)`;
    avatar.textContent = initials(user.first_name);
    const text = document.createElement("div");
    const name = document.createElement("div");
    name.className = "user-name";
    name.textContent = [user.first_name, user.last_name].filter(Boolean).join(" ");
    const meta = document.createElement("div");
    meta.className = "user-meta";
    meta.textContent = `id ${user.id}` + (user.language_code ? ` · ${user.language_code}` : "");
    text.append(name, meta);
    li.append(avatar, text);
    li.addEventListener("click", () => selectUser(user.id));
    list.append(li);
  }
  if (state.current === null && state.users.length) {
    const saved = Number(localStorage.getItem("phonicflow-emulator-user"));
    const pick = state.users.find((u) => u.id === saved) || state.users[0];
    await selectUser(pick.id);
  }
}

async function selectUser(id) {
  state.current = id;
  localStorage.setItem("phonicflow-emulator-user", String(id));
  for (const li of $("users").children) li.classList.toggle("active", Number(li.dataset.userId) === id);
  const user = state.users.find((u) => u.id === id);
  $("chat-user").textContent = user ? `you are ${user.first_name} (id ${user.id})` : "";
  for (const control of ["text", "send", "record", "menu"]) $(control).disabled = false;
  $("command-menu").hidden = true;
  state.nodes.clear();
  const box = $("messages");
  box.replaceChildren();
  const all = await api(`/_emu/users/${id}/messages?sender=all`);
  if (!all.length) box.append(emptyHint());
  for (const message of all) showMessage(message);
  setAction(null);
  $("text").focus();
}

function emptyHint() {
  const hint = document.createElement("div");
  hint.className = "empty";
  hint.id = "empty";
  hint.append("Say hello to the bot — try ");
  const code = document.createElement("code");
  code.textContent = "/start";
  hint.append(code, ", type a sentence, or record a voice note.");
  return hint;
}

$("new-user").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("new-user-name").value.trim();
  let id = Number($("new-user-id").value);
  if (!id) id = Math.max(1000, ...state.users.map((u) => u.id)) + 1;
  try {
    const user = await postJSON("/_emu/users", {
      id, first_name: name, language_code: $("new-user-lang").value,
      username: name.toLowerCase().replace(/[^a-z0-9_]/g, "") || undefined,
    });
    $("new-user").reset();
    await loadUsers();
    await selectUser(user.id);
  } catch (error) {
    toast(error.message, true);
  }
});

$("reset").addEventListener("click", async () => {
  if (!confirm("Forget every learner, message, file and injected fault?")) return;
  await api("/_emu/reset", { method: "POST" });
});

// ---- rendering -----------------------------------------------------------------------------

function safeUrl(url) {
  return /^(https?|tg):\/\//i.test(url || "") ? url : null;
}

function entityElement(entity, slice) {
  const tags = { bold: "b", italic: "i", underline: "u", strikethrough: "s", code: "code", pre: "pre" };
  if (tags[entity.type]) return document.createElement(tags[entity.type]);
  if (entity.type === "blockquote" || entity.type === "expandable_blockquote") {
    return document.createElement("blockquote");
  }
  if (entity.type === "text_link" || entity.type === "url") {
    const url = safeUrl(entity.type === "url" ? slice : entity.url);
    if (url) {
      const a = document.createElement("a");
      a.href = url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      return a;
    }
  }
  const span = document.createElement("span");
  if (entity.type === "spoiler") {
    span.className = "spoiler";
    span.addEventListener("click", () => span.classList.add("revealed"));
  } else if (entity.type === "bot_command") {
    span.className = "command";
  }
  return span;
}

// Entities are UTF-16 offsets, which is exactly how JS indexes strings.
function renderEntities(parent, text, entities, start, end) {
  let pos = start;
  let i = 0;
  while (i < entities.length) {
    const entity = entities[i];
    if (entity.offset < pos) { i += 1; continue; }
    if (entity.offset >= end) break;
    if (entity.offset > pos) parent.append(text.slice(pos, entity.offset));
    const stop = Math.min(entity.offset + entity.length, end);
    const inner = [];
    let j = i + 1;
    while (j < entities.length && entities[j].offset < stop) {
      if (entities[j].offset + entities[j].length <= stop) inner.push(entities[j]);
      j += 1;
    }
    const el = entityElement(entity, text.slice(entity.offset, stop));
    renderEntities(el, text, inner, entity.offset, stop);
    parent.append(el);
    pos = stop;
    // Quotes and code blocks already end the line; their trailing newline would add a blank one.
    if (/^(pre|blockquote|expandable_blockquote)$/.test(entity.type) && text[pos] === "\n" && pos < end) pos += 1;
    i = j;
  }
  if (pos < end) parent.append(text.slice(pos, end));
}

function formatted(text, entities) {
  const fragment = document.createDocumentFragment();
  const sorted = [...(entities || [])].sort((a, b) => a.offset - b.offset || b.length - a.length);
  renderEntities(fragment, text, sorted, 0, text.length);
  return fragment;
}

function mediaBlock(message) {
  const block = document.createElement("div");
  block.className = "media";
  const fileUrl = (f) => `/_emu/files/${encodeURIComponent(f.file_id)}`;
  if (message.voice || message.audio) {
    const item = message.voice || message.audio;
    const audio = document.createElement("audio");
    audio.controls = true;
    audio.preload = "none";
    audio.src = fileUrl(item);
    audio.dataset.testid = message.voice ? "voice" : "audio";
    const label = document.createElement("div");
    label.className = "media-label";
    const what = message.voice ? "Voice message" : item.title || item.file_name || "Audio";
    label.textContent = `${what} · ${item.duration ?? "?"} s · ${Math.ceil((item.file_size || 0) / 1024)} KB`;
    block.append(audio, label);
  } else if (message.photo?.length) {
    // Telegram sends the sizes smallest first: show the largest.
    const size = message.photo[message.photo.length - 1];
    const img = document.createElement("img");
    img.className = "photo";
    img.src = fileUrl(size);
    img.alt = message.caption || "Photo";
    img.dataset.testid = "photo";
    if (size.width && size.height) {
      img.width = size.width;
      img.height = size.height;
    }
    block.append(img);
  } else if (message.video_note) {
    const video = document.createElement("video");
    video.controls = true;
    video.preload = "metadata";
    video.src = fileUrl(message.video_note);
    block.append(video);
  } else if (message.document) {
    const row = document.createElement("a");
    row.className = "file";
    row.href = fileUrl(message.document);
    row.download = message.document.file_name || "file";
    const icon = document.createElement("div");
    icon.className = "file-icon";
    icon.textContent = (message.document.file_name || "").split(".").pop().slice(0, 4).toUpperCase() || "FILE";
    const name = document.createElement("span");
    name.textContent = `${message.document.file_name || "file"} · ${Math.ceil((message.document.file_size || 0) / 1024)} KB`;
    row.append(icon, name);
    block.append(row);
  } else {
    return null;
  }
  return block;
}

function keyboard(message) {
  const rows = message.reply_markup?.inline_keyboard;
  if (!rows?.length) return null;
  const board = document.createElement("div");
  board.className = "keyboard";
  board.dataset.testid = "keyboard";
  for (const row of rows) {
    const line = document.createElement("div");
    line.className = "kb-row";
    for (const button of row) {
      let el;
      if (button.url && safeUrl(button.url)) {
        el = document.createElement("a");
        el.href = button.url;
        el.target = "_blank";
        el.rel = "noopener noreferrer";
      } else {
        el = document.createElement("button");
        el.type = "button";
        if (button.callback_data !== undefined) {
          el.dataset.callbackData = button.callback_data;
          el.addEventListener("click", () => press(message.message_id, button.callback_data, el));
        }
      }
      el.textContent = button.text;
      line.append(el);
    }
    board.append(line);
  }
  return board;
}

function messageNode(message) {
  const mine = !message.from?.is_bot;
  const wrap = document.createElement("div");
  wrap.className = `msg ${mine ? "user" : "bot"}`;
  wrap.dataset.messageId = message.message_id;
  wrap.dataset.testid = mine ? "user-message" : "bot-message";
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  if (message.reply_to_message) {
    const quote = document.createElement("div");
    quote.className = "reply-quote";
    const original = message.reply_to_message;
    quote.textContent = original.text || original.caption || (original.voice ? "Voice message" : "Message");
    bubble.append(quote);
  }
  const media = mediaBlock(message);
  if (media) bubble.append(media);
  const text = message.text ?? message.caption;
  if (text) {
    const body = document.createElement("div");
    body.className = "text";
    body.append(formatted(text, message.entities || message.caption_entities));
    bubble.append(body);
  }
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = (message.edit_date ? "edited " : "") + timeOf(message.date);
  bubble.append(meta);
  wrap.append(bubble);
  const board = keyboard(message);
  if (board) wrap.append(board);
  return wrap;
}

function showMessage(message) {
  $("empty")?.remove();
  const box = $("messages");
  const node = messageNode(message);
  const existing = state.nodes.get(message.message_id);
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  if (existing) existing.replaceWith(node);
  else box.append(node);
  state.nodes.set(message.message_id, node);
  if (!message.from?.is_bot || atBottom || !existing) box.scrollTop = box.scrollHeight;
}

function setAction(action) {
  const status = $("chat-status");
  clearTimeout(state.actionTimer);
  if (!action) {
    status.textContent = "bot";
    status.classList.remove("active");
    return;
  }
  status.textContent = ACTION_LABELS[action] || `${action}…`;
  status.classList.add("active");
  state.actionTimer = setTimeout(() => setAction(null), ACTION_SHOW_MS);
}

// ---- the bot's command menu (setMyCommands), in the learner's language as Telegram picks it ---

function commandsFor(user, sets) {
  const language = (user?.language_code || "").split("-")[0];
  const defaults = sets.filter((set) => (set.scope?.type || "default") === "default");
  const match = defaults.find((set) => set.language_code === language) || defaults.find((set) => !set.language_code);
  return match ? match.commands : [];
}

$("menu").addEventListener("click", async () => {
  const menu = $("command-menu");
  if (!menu.hidden) {
    menu.hidden = true;
    return;
  }
  const info = await api("/_emu/bot");
  const user = state.users.find((u) => u.id === state.current);
  const commands = commandsFor(user, info.commands || []);
  menu.replaceChildren();
  if (!commands.length) {
    const none = document.createElement("li");
    none.className = "none";
    none.textContent = "The bot has not set any commands (setMyCommands).";
    menu.append(none);
  }
  for (const command of commands) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.className = "command-name";
    name.textContent = `/${command.command}`;
    const description = document.createElement("span");
    description.className = "command-description";
    description.textContent = command.description;
    li.append(name, description);
    li.addEventListener("click", async () => {
      menu.hidden = true;
      await postJSON(`/_emu/users/${state.current}/text`, { text: `/${command.command}` }).catch((e) => toast(e.message, true));
    });
    menu.append(li);
  }
  menu.hidden = false;
});

// ---- sending -------------------------------------------------------------------------------

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("text");
  const text = input.value;
  if (!text.trim() || state.current === null) return;
  input.value = "";
  try {
    await postJSON(`/_emu/users/${state.current}/text`, { text });
  } catch (error) {
    input.value = text;
    toast(error.message, true);
  }
});

async function press(messageId, data, el) {
  el.classList.add("pending");
  try {
    await postJSON(`/_emu/users/${state.current}/press`, { message_id: messageId, data });
  } catch (error) {
    toast(error.message, true);
  }
  setTimeout(() => el.classList.remove("pending"), TOAST_MS);
}

function kindFor(file) {
  const name = file.name.toLowerCase();
  if (/\.(ogg|oga|opus)$/.test(name) || file.type === "audio/ogg") return "voice";
  if (file.type.startsWith("audio/") || /\.(mp3|m4a|wav|flac|aac)$/.test(name)) return "audio";
  if (file.type === "video/mp4") return "video_note";
  return "document";
}

async function upload(blob, kind, extra = {}) {
  const form = new FormData();
  form.append("kind", kind);
  form.append("file", blob, extra.file_name || blob.name || `${kind}.bin`);
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) form.append(key, String(value));
  try {
    await api(`/_emu/users/${state.current}/media`, { method: "POST", body: form });
  } catch (error) {
    toast(`Upload failed: ${error.message}`, true);
  }
}

$("file-input").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  event.target.value = "";
  if (!file || state.current === null) return;
  await upload(file, kindFor(file), { file_name: file.name, mime_type: file.type || undefined });
});

async function toggleRecording() {
  const button = $("record");
  if (state.recorder) {
    state.recorder.stop();
    return;
  }
  if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === "undefined") {
    toast("This browser cannot record audio here (needs https or localhost).", true);
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (error) {
    toast(`Microphone unavailable: ${error.message}`, true);
    return;
  }
  const preferred = ["audio/ogg;codecs=opus", "audio/webm;codecs=opus", "audio/webm"];
  const mimeType = preferred.find((type) => MediaRecorder.isTypeSupported(type)) || "";
  const recorder = new MediaRecorder(stream, mimeType ? { mimeType } : {});
  const chunks = [];
  recorder.addEventListener("dataavailable", (e) => e.data.size && chunks.push(e.data));
  recorder.addEventListener("stop", async () => {
    stream.getTracks().forEach((track) => track.stop());
    button.classList.remove("recording");
    button.title = "Record a voice note";
    state.recorder = null;
    const seconds = Math.max(1, Math.round((Date.now() - state.recordStarted) / 1000));
    const type = (recorder.mimeType || "audio/webm").split(";")[0];
    const blob = new Blob(chunks, { type });
    if (blob.size) await upload(blob, "voice", { duration: seconds, mime_type: type, file_name: "voice.webm" });
  });
  state.recorder = recorder;
  state.recordStarted = Date.now();
  recorder.start();
  button.classList.add("recording");
  button.title = "Stop and send";
}

$("record").addEventListener("click", toggleRecording);

// ---- the feed ------------------------------------------------------------------------------

function handle(event) {
  const here = event.chat_id === state.current;
  switch (event.kind) {
    case "user":
      loadUsers();
      break;
    case "message":
    case "edit":
      if (here) {
        showMessage(event.message);
        if (event.message.from?.is_bot) setAction(null);
      }
      break;
    case "delete":
      if (here) {
        state.nodes.get(event.message_id)?.remove();
        state.nodes.delete(event.message_id);
      }
      break;
    case "chat_action":
      if (here) setAction(event.action);
      break;
    case "callback_answer":
      if (here && event.answer.text) toast(event.answer.text, event.answer.show_alert);
      break;
    case "reset":
      state.current = null;
      state.nodes.clear();
      $("messages").replaceChildren(emptyHint());
      $("chat-user").textContent = "";
      loadUsers();
      break;
    default:
      break;
  }
}

async function feed() {
  for (;;) {
    try {
      const answer = await api(`/_emu/events?after=${state.cursor}&timeout=${POLL_SECONDS}`);
      state.cursor = answer.cursor;
      for (const event of answer.events) handle(event);
      $("bot-name").textContent = `@${state.bot.username} · online`;
    } catch (error) {
      $("bot-name").textContent = "emulator unreachable, retrying…";
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

async function start() {
  const info = await api("/_emu/bot");
  state.bot = info.bot;
  $("chat-title").textContent = info.bot.first_name;
  $("chat-avatar").textContent = initials(info.bot.first_name);
  $("bot-name").textContent = `@${info.bot.username} · online`;
  // Start the feed at "now": what happened before is loaded per chat.
  state.cursor = (await api(`/_emu/events?after=${Number.MAX_SAFE_INTEGER}`)).cursor;
  await loadUsers();
  feed();
}

start().catch((error) => toast(`Cannot reach the emulator: ${error.message}`, true));
