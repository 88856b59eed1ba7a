// Shared pieces of every page: the html tag, error and notice boxes, labelled fields, lists
// that load more by cursor, and the page heading that takes focus when a page opens.

import { h } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import { api, describeError } from "./api.js";

export const html = htm.bind(h);

let fieldCount = 0;
export const useId = (prefix) => {
  const ref = useRef(null);
  if (ref.current === null) ref.current = `${prefix}-${++fieldCount}`;
  return ref.current;
};

export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<div class="error" role="alert">${describeError(error)}</div>`;
}

export function Notice({ children }) {
  if (!children) return null;
  return html`<div class="notice" role="status">${children}</div>`;
}

export function Title({ children }) {
  const ref = useRef(null);
  useEffect(() => {
    if (ref.current) ref.current.focus();
  }, []);
  return html`<h1 tabindex="-1" ref=${ref}>${children}</h1>`;
}

export function Field({ label, type = "text", value, onInput, hint, ...rest }) {
  const id = useId("f");
  const hintId = hint ? `${id}-hint` : undefined;
  const input =
    type === "textarea"
      ? html`<textarea id=${id} value=${value} aria-describedby=${hintId}
          onInput=${(e) => onInput(e.currentTarget.value)} ...${rest}></textarea>`
      : html`<input id=${id} type=${type} value=${value} aria-describedby=${hintId}
          onInput=${(e) => onInput(e.currentTarget.value)} ...${rest} />`;
  return html`<div class="field">
    <label for=${id}>${label}</label>${input}
    ${hint && html`<small id=${hintId}>${hint}</small>`}
  </div>`;
}

export function Select({ label, value, onChange, options }) {
  const id = useId("s");
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <select id=${id} value=${value} onChange=${(e) => onChange(e.currentTarget.value)}>
      ${options.map(([v, text]) => html`<option value=${v}>${text}</option>`)}
    </select>
  </div>`;
}

// Run an action, keeping its error to show and a busy flag for its button.
export function useAction() {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = useCallback(async (action) => {
    setBusy(true);
    setError(null);
    try {
      return await action();
    } catch (failure) {
      setError(failure);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { error, busy, run, setError };
}

// A keyset-paginated list: the first page, then "Load more" from next_cursor.
export function usePagedList(path, query) {
  const [items, setItems] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState(null);
  const [loading, setLoading] = useState(true);
  const key = path + JSON.stringify(query || {});
  // Only the latest load may write: an earlier one answering late (a search typed while the
  // first page loads) would put back the rows it replaced.
  const latest = useRef(0);
  const load = useCallback(
    async (after) => {
      const mine = ++latest.current;
      setLoading(true);
      setError(null);
      try {
        const page = await api("GET", path, { query: { ...query, cursor: after || undefined } });
        if (mine !== latest.current) return;
        // Some lists answer a plain array, others a page with its next cursor.
        const items = Array.isArray(page) ? page : page.items;
        setItems((previous) => (after ? [...previous, ...items] : items));
        setCursor(Array.isArray(page) ? null : page.next_cursor);
      } catch (failure) {
        if (mine === latest.current) setError(failure);
      } finally {
        if (mine === latest.current) setLoading(false);
      }
    },
    [key],
  );
  useEffect(() => {
    if (path) load(null);
  }, [key]);
  return { items, setItems, error, loading, more: cursor ? () => load(cursor) : null, reload: () => load(null) };
}

export function ListFooter({ list, label = "items" }) {
  return html`
    <${ErrorBox} error=${list.error} />
    ${list.loading && html`<p class="muted" role="status">Loading…</p>`}
    ${!list.loading && !list.error && list.items.length === 0 && html`<p class="muted">No ${label}.</p>`}
    ${list.more && html`<button type="button" class="secondary" onClick=${list.more}>Load more</button>`}
    ${list.error && !list.more && !list.loading && html`<button type="button" class="secondary" onClick=${list.reload}>Try again</button>`}
  `;
}

// Ids are UUIDv7: their first digits are a timestamp that ids made together share, so an id
// is shortened to its last, random digits.
export const shortId = (id) => `…${String(id).slice(-8)}`;

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function Secret({ label, value }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return html`<div class="secret" role="status">
    <p><strong>${label}</strong> — shown only now; keep it somewhere safe.</p>
    <code class="secret-value">${value}</code>
    <button type="button" class="secondary" onClick=${copy}>${copied ? "Copied" : "Copy"}</button>
  </div>`;
}
