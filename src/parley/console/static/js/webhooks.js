// Webhooks: create (the secret shown once), edit, test, rotate, and the delivery log with retry.

import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { ErrorBox, Field, ListFooter, Notice, Secret, Select, Title, html, useAction, usePagedList, when } from "./ui.js";

export const EVENT_TYPES = [
  "session.created", "session.updated", "session.deleted",
  "message.created", "message.deleted",
  "vendor.created", "vendor.updated", "vendor.deleted",
  "seller.created", "seller.updated", "seller.deleted",
];

function EventsPicker({ value, onChange }) {
  const all = value.includes("*");
  const toggle = (type) =>
    onChange(value.includes(type) ? value.filter((t) => t !== type) : [...value.filter((t) => t !== "*"), type]);
  return html`<fieldset class="events">
    <legend>Events</legend>
    <label><input type="checkbox" checked=${all} onChange=${() => onChange(all ? [] : ["*"])} /> Every event</label>
    ${EVENT_TYPES.map(
      (type) => html`<label><input type="checkbox" checked=${all || value.includes(type)} disabled=${all} onChange=${() => toggle(type)} /> ${type}</label>`,
    )}
  </fieldset>`;
}

function WebhookForm({ initial, submitLabel, onSubmit }) {
  const [url, setUrl] = useState(initial ? initial.url : "");
  const [events, setEvents] = useState(initial ? initial.events : ["*"]);
  const [description, setDescription] = useState(initial ? initial.description || "" : "");
  const [active, setActive] = useState(initial ? initial.is_active : true);
  const action = useAction();
  const submit = (event) => {
    event.preventDefault();
    const body = { url, events, description: description.trim() || null };
    if (initial) body.is_active = active;
    action.run(() => onSubmit(body));
  };
  return html`<form class="stack" onSubmit=${submit} aria-label=${submitLabel}>
    <${Field} label="URL" type="url" value=${url} onInput=${setUrl} required maxlength="2048" />
    <${Field} label="Description (optional)" value=${description} onInput=${setDescription} />
    <${EventsPicker} value=${events} onChange=${setEvents} />
    ${initial && html`<label class="check"><input type="checkbox" checked=${active} onChange=${(e) => setActive(e.currentTarget.checked)} /> Active</label>`}
    <button type="submit" disabled=${action.busy}>${submitLabel}</button>
    <${ErrorBox} error=${action.error} />
  </form>`;
}

export function WebhooksPage() {
  const list = usePagedList("/webhooks", {});
  const [created, setCreated] = useState(null);
  const create = async (body) => {
    const hook = await api("POST", "/webhooks", { json: body });
    setCreated(hook);
    list.setItems((items) => [hook, ...items]);
  };
  return html`
    <${Title}>Webhooks<//>
    ${created && html`<${Secret} label=${`Signing secret of ${created.url}`} value=${created.secret} />`}
    <details class="manage" open=${list.items.length === 0}>
      <summary>Add a webhook</summary>
      <${WebhookForm} submitLabel="Create webhook" onSubmit=${create} />
    </details>
    <ul class="cards">
      ${list.items.map(
        (w) => html`<li key=${w.id}>
          <a href=${`#/webhooks/${w.id}`}>${w.url}</a>
          <span class="muted small">${w.is_active ? "active" : `disabled${w.disabled_reason ? ": " + w.disabled_reason : ""}`} · ${w.events.join(", ")}</span>
        </li>`,
      )}
    </ul>
    <${ListFooter} list=${list} label="webhooks" />
  `;
}

function Deliveries({ id }) {
  const [status, setStatus] = useState("");
  const list = usePagedList(`/webhooks/${id}/deliveries`, { status, limit: 20 });
  const action = useAction();
  const [notice, setNotice] = useState("");
  const retry = (delivery) =>
    action.run(async () => {
      await api("POST", `/webhooks/${id}/deliveries/${delivery.id}/retry`);
      setNotice(`Delivery of ${delivery.event_type} queued again.`);
      setTimeout(list.reload, 1000);
    });
  return html`
    <h2>Deliveries</h2>
    <div class="row">
      <${Select} label="Status" value=${status} onChange=${setStatus}
        options=${[["", "any"], ["pending", "pending"], ["retrying", "retrying"], ["succeeded", "succeeded"], ["failed", "failed"]]} />
      <button type="button" class="secondary" onClick=${list.reload}>Refresh</button>
    </div>
    <${Notice}>${notice}<//>
    <${ErrorBox} error=${action.error} />
    <table class="cells">
      <caption>Newest first</caption>
      <thead><tr><th scope="col">Created</th><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Last answer</th><th scope="col">Next attempt</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>
        ${list.items.map(
          (d) => html`<tr key=${d.id}>
            <td data-label="Created">${when(d.created_at)}</td><td data-label="Event"><code>${d.event_type}</code></td><td data-label="Status">${d.status}</td><td data-label="Attempts">${d.attempts}</td>
            <td data-label="Last answer">${d.last_status_code || d.last_error || "—"}</td><td data-label="Next attempt">${when(d.next_attempt_at)}</td>
            <td><button type="button" class="secondary" onClick=${() => retry(d)} aria-label=${`Retry delivery of ${d.event_type}`}>Retry</button></td>
          </tr>`,
        )}
      </tbody>
    </table>
    <${ListFooter} list=${list} label="deliveries" />
  `;
}

export function WebhookPage({ id }) {
  const [hook, setHook] = useState(null);
  const [error, setError] = useState(null);
  const [secret, setSecret] = useState(null);
  const [notice, setNotice] = useState("");
  const action = useAction();
  useEffect(() => {
    api("GET", `/webhooks/${id}`).then(setHook).catch(setError);
  }, [id]);
  const save = async (body) => {
    setHook(await api("PATCH", `/webhooks/${id}`, { json: body }));
    setNotice("Webhook saved.");
  };
  const test = () =>
    action.run(async () => {
      await api("POST", `/webhooks/${id}/test`);
      setNotice("A webhook.test event is on its way; see the deliveries below.");
    });
  const rotate = () => {
    if (!confirm("Make a new signing secret? The old one keeps signing for 24 hours.")) return;
    action.run(async () => setSecret((await api("POST", `/webhooks/${id}/rotate-secret`)).secret));
  };
  const remove = () => {
    if (!confirm("Delete this webhook?")) return;
    action.run(async () => {
      await api("DELETE", `/webhooks/${id}`);
      location.hash = "#/webhooks";
    });
  };
  if (!hook) return html`<${Title}>Webhook<//><${ErrorBox} error=${error} />`;
  return html`
    <${Title}>Webhook<//>
    <p class="muted small">${hook.url} · created ${when(hook.created_at)}${hook.disabled_reason ? ` · disabled: ${hook.disabled_reason}` : ""}</p>
    ${secret && html`<${Secret} label="New signing secret" value=${secret} />`}
    <${Notice}>${notice}<//>
    <div class="row">
      <button type="button" onClick=${test} disabled=${action.busy}>Send a test event</button>
      <button type="button" class="secondary" onClick=${rotate} disabled=${action.busy}>Rotate secret</button>
      <button type="button" class="danger" onClick=${remove} disabled=${action.busy}>Delete webhook</button>
    </div>
    <${ErrorBox} error=${action.error} />
    <details class="manage">
      <summary>Edit</summary>
      <${WebhookForm} key=${hook.updated_at} initial=${hook} submitLabel="Save webhook" onSubmit=${save} />
    </details>
    <${Deliveries} id=${id} />
  `;
}
