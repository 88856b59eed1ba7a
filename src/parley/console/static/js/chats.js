// Chat sessions: the list with search, creating, renaming and deleting one, and a conversation
// (messages, text, uploads with progress, media shown from blob: URLs, live updates).

import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, checkSignIn, describeError, mediaUrl, publishedPaths, upload } from "./api.js";
import { ErrorBox, Field, ListFooter, Title, html, useAction, usePagedList, when } from "./ui.js";

export function SessionsPage() {
  const [q, setQ] = useState("");
  const [search, setSearch] = useState("");
  const [title, setTitle] = useState("");
  const list = usePagedList("/sessions", { q: search, limit: 20 });
  const create = useAction();

  const submitSearch = (event) => {
    event.preventDefault();
    setSearch(q.trim());
  };
  const submitCreate = (event) => {
    event.preventDefault();
    create.run(async () => {
      const created = await api("POST", "/sessions", { json: title.trim() ? { title } : {} });
      setTitle("");
      location.hash = `#/sessions/${created.id}`;
    });
  };
  return html`
    <${Title}>Chat sessions<//>
    <div class="row">
      <form class="inline" onSubmit=${submitCreate} aria-label="New chat session">
        <${Field} label="Title of a new session (optional)" value=${title} onInput=${setTitle} maxlength="200" />
        <button type="submit" disabled=${create.busy}>Create session</button>
      </form>
      <form class="inline" role="search" onSubmit=${submitSearch}>
        <${Field} label="Search titles" type="search" value=${q} onInput=${setQ} />
        <button type="submit" class="secondary">Search</button>
      </form>
    </div>
    <${ErrorBox} error=${create.error} />
    <ul class="cards">
      ${list.items.map(
        (s) => html`<li key=${s.id}>
          <a href=${`#/sessions/${s.id}`}>${s.title}</a>
          <span class="muted">${s.message_count} messages · last ${when(s.last_message_at || s.updated_at)}</span>
        </li>`,
      )}
    </ul>
    <${ListFooter} list=${list} label="chat sessions" />
  `;
}

function MediaView({ media }) {
  const [src, setSrc] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let url = null;
    let live = true;
    mediaUrl(media.url || media.id)
      .then((made) => {
        url = made;
        if (live) setSrc(made);
        else URL.revokeObjectURL(made);
      })
      .catch((failure) => live && setError(failure));
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [media.id]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!src) return html`<span class="muted">Loading ${media.filename}…</span>`;
  const type = media.content_type || "";
  if (type.startsWith("image/")) return html`<img class="media" src=${src} alt=${media.filename} />`;
  if (type.startsWith("audio/")) return html`<audio class="media" controls src=${src} aria-label=${media.filename}></audio>`;
  if (type.startsWith("video/")) return html`<video class="media" controls src=${src} aria-label=${media.filename}></video>`;
  return html`<a href=${src} download=${media.filename}>Download ${media.filename} (${Math.ceil(media.size / 1024)} KB)</a>`;
}

function Message({ message }) {
  return html`<li class=${`message ${message.sender}`} data-message-id=${message.id}>
    <div class="meta"><strong>${message.sender}</strong> · <time datetime=${message.created_at}>${when(message.created_at)}</time>
      ${message.phone_number && html` · ${message.phone_number}`}</div>
    ${message.media && html`<${MediaView} media=${message.media} />`}
    ${message.content && html`<p class="content">${message.content}</p>`}
  </li>`;
}

// New messages as they are posted: the event stream when the server has one, else a poll.
function useLiveMessages(sessionId, onMessage) {
  const [mode, setMode] = useState(null);
  const [error, setError] = useState(null);
  const handler = useRef(onMessage);
  handler.current = onMessage;
  useEffect(() => {
    let stopped = false;
    let source = null;
    let timer = null;
    const latest = async () => {
      try {
        const page = await api("GET", `/sessions/${sessionId}/messages`, { query: { order: "desc", limit: 50 } });
        page.items.slice().reverse().forEach((m) => handler.current(m));
        setError(null);
      } catch (failure) {
        // Shown until an attempt succeeds; a lost sign-in has already sent the page to sign-in.
        setError(failure);
      }
    };
    const poll = async () => {
      // A hidden tab waits; it catches up on its first poll once shown again.
      if (document.visibilityState === "visible") await latest();
      if (!stopped) timer = setTimeout(poll, 2000);
    };
    const stream = async () => {
      if (stopped) return;
      try {
        const { ticket } = await api("POST", "/events/ticket");
        if (stopped) return;
        const query = new URLSearchParams({ ticket, session_id: sessionId });
        source = new EventSource(`/api/v1/events/stream?${query}`);
        // Live only once the stream is open; then catch up on anything posted while it opened
        // (or while it was down), which the stream itself does not replay.
        source.onopen = () => {
          setError(null);
          setMode("stream");
          latest();
        };
        source.addEventListener("message.created", (event) => handler.current(JSON.parse(event.data).data));
        source.addEventListener("message.deleted", (event) => handler.current(JSON.parse(event.data).data, true));
        source.addEventListener("session.deleted", () => {
          setError(new ApiError(404, "this chat session was deleted.", "not_found"));
          source.close();
          stopped = true;
        });
        source.onerror = () => {
          // A ticket is single-use: reconnect with a fresh one. Read the latest page too: a
          // stream that cannot open (the session is gone) still shows why.
          source.close();
          setMode("connecting");
          // The server also closes the stream when its login session is revoked: one call
          // finds out at once, a 401 sending the page back to sign-in with the reason. Other
          // failures are met, and shown, by the reconnection and the read below.
          checkSignIn().catch(() => {});
          if (!stopped) timer = setTimeout(() => {
            stream();
            latest();
          }, 1000);
        };
      } catch (failure) {
        setError(failure);
        if (!stopped) timer = setTimeout(stream, 3000);
      }
    };
    // Without the list of features (its failure is shown by the menu) the poll, which every
    // server answers, keeps the conversation up to date.
    publishedPaths().catch(() => new Set()).then((paths) => {
      if (stopped) return;
      if (paths.has("/api/v1/events/ticket") && paths.has("/api/v1/events/stream")) {
        setMode("connecting");
        stream();
      } else {
        setMode("poll");
        timer = setTimeout(poll, 2000);
      }
    });
    return () => {
      stopped = true;
      clearTimeout(timer);
      if (source) source.close();
    };
  }, [sessionId]);
  return { mode, error };
}

function Composer({ sessionId, onPosted }) {
  const [text, setText] = useState("");
  const [file, setFile] = useState(null);
  const [progress, setProgress] = useState(null);
  const fileInput = useRef(null);
  const post = useAction();
  const send = (event) => {
    event.preventDefault();
    post.run(async () => {
      let message;
      if (file) {
        const form = new FormData();
        form.append("file", file);
        if (text.trim()) form.append("content", text);
        setProgress(0);
        try {
          message = await upload(`/sessions/${sessionId}/messages`, form, setProgress);
        } finally {
          setProgress(null);
        }
      } else {
        message = await api("POST", `/sessions/${sessionId}/messages`, { json: { content: text } });
      }
      setText("");
      setFile(null);
      if (fileInput.current) fileInput.current.value = "";
      onPosted(message);
    });
  };
  return html`<form class="composer" onSubmit=${send} aria-label="Post a message">
    <${Field} label=${file ? "Caption (optional)" : "Message"} type="textarea" value=${text} onInput=${setText} rows="2" maxlength="4096" />
    <div class="field">
      <label for="upload-file">Attach a file (image, audio, video or PDF)</label>
      <input id="upload-file" type="file" ref=${fileInput} onChange=${(e) => setFile(e.currentTarget.files[0] || null)} />
    </div>
    ${progress !== null && html`<label class="progress">Uploading <progress max="1" value=${progress}>${Math.round(progress * 100)}%</progress> ${Math.round(progress * 100)}%</label>`}
    <button type="submit" disabled=${post.busy}>${file ? "Upload" : "Send"}</button>
    <${ErrorBox} error=${post.error} />
  </form>`;
}

export function ConversationPage({ id }) {
  const [session, setSession] = useState(null);
  const [messages, setMessages] = useState([]);
  const [older, setOlder] = useState(null);
  const [error, setError] = useState(null);
  const [renaming, setRenaming] = useState("");
  const action = useAction();

  const merge = (incoming, deleted = false) =>
    setMessages((list) => {
      if (deleted) return list.filter((m) => m.id !== incoming.id);
      return list.some((m) => m.id === incoming.id) ? list : [...list, incoming];
    });
  const live = useLiveMessages(id, merge);
  const mode = live.mode;

  const loadOlder = async (cursor) => {
    try {
      const page = await api("GET", `/sessions/${id}/messages`, { query: { order: "desc", limit: 50, cursor } });
      const chronological = page.items.slice().reverse();
      setMessages((list) => [...chronological.filter((m) => !list.some((k) => k.id === m.id)), ...list]);
      setOlder(page.next_cursor);
    } catch (failure) {
      setError(failure);
    }
  };
  useEffect(() => {
    setMessages([]);
    api("GET", `/sessions/${id}`)
      .then((s) => {
        setSession(s);
        setRenaming(s.title);
      })
      .catch(setError);
    loadOlder(undefined);
  }, [id]);

  const rename = (event) => {
    event.preventDefault();
    action.run(async () => setSession(await api("PATCH", `/sessions/${id}`, { json: { title: renaming } })));
  };
  const remove = () => {
    if (!confirm("Delete this chat session with its messages, media, vendor and sellers?")) return;
    action.run(async () => {
      await api("DELETE", `/sessions/${id}`);
      location.hash = "#/sessions";
    });
  };
  if (error && !session) return html`<${Title}>Chat session<//><${ErrorBox} error=${error} />`;
  if (!session) return html`<p role="status">Loading…</p>`;
  return html`
    <${Title}>${session.title}<//>
    <nav class="subnav" aria-label="This session">
      <a href=${`#/sessions/${id}`} aria-current="page">Conversation</a>
      <a href=${`#/sessions/${id}/vendor`}>Vendor</a>
      <a href=${`#/sessions/${id}/sellers`}>Sellers (${session.seller_count})</a>
    </nav>
    <details class="manage">
      <summary>Rename or delete</summary>
      <form class="inline" onSubmit=${rename}>
        <${Field} label="Title" value=${renaming} onInput=${setRenaming} maxlength="200" required />
        <button type="submit" disabled=${action.busy}>Rename</button>
      </form>
      <button type="button" class="danger" onClick=${remove}>Delete session</button>
    </details>
    <${ErrorBox} error=${action.error || error} />
    ${older && html`<button type="button" class="secondary" onClick=${() => loadOlder(older)}>Load older messages</button>`}
    <ol class="messages" aria-label="Messages" aria-live="polite">
      ${messages.map((m) => html`<${Message} key=${m.id} message=${m} />`)}
    </ol>
    ${messages.length === 0 && html`<p class="muted">No messages yet.</p>`}
    ${live.error && html`<div class="error" role="alert">Could not update the conversation: ${describeError(live.error)}</div>`}
    <p class="muted small">${mode === "stream" ? "Live: new messages appear as they are posted." : mode === "connecting" ? "Connecting to live updates…" : mode === "poll" ? "New messages are checked every 2 seconds." : ""}</p>
    <${Composer} sessionId=${id} onPosted=${merge} />
  `;
}
