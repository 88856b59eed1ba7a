// The vendor of a chat session, its sellers, and the sellers' catalogue across sessions.

import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { ErrorBox, Field, ListFooter, Notice, Title, html, shortId, useAction, usePagedList } from "./ui.js";

function SessionNav({ id, current }) {
  const link = (href, text, name) =>
    html`<a href=${href} aria-current=${current === name ? "page" : undefined}>${text}</a>`;
  return html`<nav class="subnav" aria-label="This session">
    ${link(`#/sessions/${id}`, "Conversation", "conversation")}
    ${link(`#/sessions/${id}/vendor`, "Vendor", "vendor")}
    ${link(`#/sessions/${id}/sellers`, "Sellers", "sellers")}
  </nav>`;
}

export function VendorPage({ id }) {
  const [vendor, setVendor] = useState(undefined);
  const [name, setName] = useState("");
  const [phone, setPhone] = useState("");
  const [loadError, setLoadError] = useState(null);
  const [saved, setSaved] = useState("");
  const action = useAction();
  const adopt = (v) => {
    setVendor(v);
    setName(v ? v.name : "");
    setPhone(v ? v.phone_number : "");
  };
  useEffect(() => {
    api("GET", `/sessions/${id}/vendor`)
      .then(adopt)
      .catch((error) => (error.status === 404 && error.message.toLowerCase().includes("vendor") ? adopt(null) : setLoadError(error)));
  }, [id]);
  const save = (event) => {
    event.preventDefault();
    setSaved("");
    action.run(async () => {
      const body = { name, phone_number: phone };
      adopt(vendor ? await api("PATCH", `/sessions/${id}/vendor`, { json: body }) : await api("POST", `/sessions/${id}/vendor`, { json: body }));
      setSaved("Vendor saved.");
    });
  };
  const remove = () => {
    if (!confirm("Remove this session's vendor?")) return;
    action.run(async () => {
      await api("DELETE", `/sessions/${id}/vendor`);
      adopt(null);
      setSaved("Vendor removed.");
    });
  };
  return html`
    <${Title}>Vendor<//>
    <${SessionNav} id=${id} current="vendor" />
    <${ErrorBox} error=${loadError} />
    ${vendor !== undefined && html`
      <form class="stack" onSubmit=${save} aria-label="Vendor">
        <${Field} label="Name" value=${name} onInput=${setName} required />
        <${Field} label="Phone number" type="tel" value=${phone} onInput=${setPhone} hint="International format, e.g. +14155550123" required />
        <div class="row">
          <button type="submit" disabled=${action.busy}>${vendor ? "Save vendor" : "Register vendor"}</button>
          ${vendor && html`<button type="button" class="danger" onClick=${remove}>Remove vendor</button>`}
        </div>
      </form>`}
    <${ErrorBox} error=${action.error} />
    <${Notice}>${saved}<//>
  `;
}

const EMPTY_SELLER = { name: "", product: "", description: "", benefits: "", image_url: "" };

function SellerForm({ initial, submitLabel, onSubmit, onCancel }) {
  const [seller, setSeller] = useState({ ...EMPTY_SELLER, ...initial });
  const action = useAction();
  const set = (key) => (value) => setSeller((s) => ({ ...s, [key]: value }));
  const submit = (event) => {
    event.preventDefault();
    const body = {};
    for (const key of Object.keys(EMPTY_SELLER)) {
      const value = (seller[key] || "").trim();
      if (value || initial) body[key] = value || null;
    }
    action.run(async () => {
      await onSubmit(body);
      if (!initial) setSeller({ ...EMPTY_SELLER });
    });
  };
  return html`<form class="stack seller-form" onSubmit=${submit} aria-label=${submitLabel}>
    <${Field} label="Name" value=${seller.name} onInput=${set("name")} required />
    <${Field} label="Product" value=${seller.product} onInput=${set("product")} required />
    <${Field} label="Description" type="textarea" rows="2" value=${seller.description || ""} onInput=${set("description")} />
    <${Field} label="Benefits" type="textarea" rows="2" value=${seller.benefits || ""} onInput=${set("benefits")} />
    <${Field} label="Image URL" type="url" value=${seller.image_url || ""} onInput=${set("image_url")} hint="http or https, never fetched by the server" />
    <div class="row">
      <button type="submit" disabled=${action.busy}>${submitLabel}</button>
      ${onCancel && html`<button type="button" class="secondary" onClick=${onCancel}>Cancel</button>`}
    </div>
    <${ErrorBox} error=${action.error} />
  </form>`;
}

function SellerList({ list }) {
  const [editing, setEditing] = useState(null);
  const action = useAction();
  const save = async (seller, body) => {
    const updated = await api("PATCH", `/sellers/${seller.id}`, { json: body });
    list.setItems((items) => items.map((s) => (s.id === updated.id ? updated : s)));
    setEditing(null);
  };
  const remove = (seller) => {
    if (!confirm(`Delete the seller ${seller.name}?`)) return;
    action.run(async () => {
      await api("DELETE", `/sellers/${seller.id}`);
      list.setItems((items) => items.filter((s) => s.id !== seller.id));
    });
  };
  return html`
    <${ErrorBox} error=${action.error} />
    <ul class="cards sellers">
      ${list.items.map((s) =>
        editing === s.id
          ? html`<li key=${s.id}><${SellerForm} initial=${s} submitLabel=${`Save ${s.name}`} onSubmit=${(body) => save(s, body)} onCancel=${() => setEditing(null)} /></li>`
          : html`<li key=${s.id}>
              <h2 class="h3">${s.name}</h2>
              <p><strong>Product:</strong> ${s.product}</p>
              ${s.description && html`<p>${s.description}</p>`}
              ${s.benefits && html`<p><strong>Benefits:</strong> ${s.benefits}</p>`}
              ${s.image_url && html`<p class="muted small">Image: ${s.image_url}</p>`}
              <p class="muted small">In session <a href=${`#/sessions/${s.session_id}`}>${shortId(s.session_id)}</a></p>
              <div class="row">
                <button type="button" class="secondary" onClick=${() => setEditing(s.id)} aria-label=${`Edit ${s.name}`}>Edit</button>
                <button type="button" class="danger" onClick=${() => remove(s)} aria-label=${`Delete ${s.name}`}>Delete</button>
              </div>
            </li>`,
      )}
    </ul>
    <${ListFooter} list=${list} label="sellers" />
  `;
}

function SearchForm({ label, onSearch }) {
  const [q, setQ] = useState("");
  return html`<form class="inline" role="search" onSubmit=${(e) => { e.preventDefault(); onSearch(q.trim()); }}>
    <${Field} label=${label} type="search" value=${q} onInput=${setQ} />
    <button type="submit" class="secondary">Search</button>
  </form>`;
}

export function SessionSellersPage({ id }) {
  const [search, setSearch] = useState("");
  const list = usePagedList(`/sessions/${id}/sellers`, { q: search, limit: 20 });
  const add = async (body) => {
    const created = await api("POST", `/sessions/${id}/sellers`, { json: body });
    list.setItems((items) => [created, ...items]);
  };
  return html`
    <${Title}>Sellers<//>
    <${SessionNav} id=${id} current="sellers" />
    <details class="manage">
      <summary>Add a seller</summary>
      <${SellerForm} submitLabel="Add seller" onSubmit=${add} />
    </details>
    <${SearchForm} label="Search this session's sellers" onSearch=${setSearch} />
    <${SellerList} list=${list} />
  `;
}

export function CataloguePage() {
  const [search, setSearch] = useState("");
  const list = usePagedList("/sellers", { q: search, limit: 20 });
  return html`
    <${Title}>Sellers' catalogue<//>
    <p class="muted">Every seller of your chat sessions; a search ranks the best matches first.</p>
    <${SearchForm} label="Search name, product, description and benefits" onSearch=${setSearch} />
    <${SellerList} list=${list} />
  `;
}
