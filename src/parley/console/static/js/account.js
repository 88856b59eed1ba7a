// Signing in (with the two-factor step), devices, two-factor setup, API keys and the audit log.

import { useEffect, useState } from "preact/hooks";
import { api, forget, login, verifyMfa } from "./api.js";
import { ErrorBox, Field, ListFooter, Notice, Secret, Select, Title, html, shortId, useAction, usePagedList, when } from "./ui.js";

export function SignInPage({ reason }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [mfaToken, setMfaToken] = useState(null);
  const [code, setCode] = useState("");
  const action = useAction();
  const signIn = (event) => {
    event.preventDefault();
    action.run(async () => {
      const answer = await login(email, password);
      setPassword("");
      if (answer.mfa_required) setMfaToken(answer.mfa_token);
    });
  };
  const verify = (event) => {
    event.preventDefault();
    action.run(() => verifyMfa(mfaToken, code.trim()));
  };
  if (mfaToken) {
    return html`<div class="narrow">
      <${Title}>Two-factor code<//>
      <form class="stack" onSubmit=${verify}>
        <${Field} label="Code from your authenticator app, or a recovery code" value=${code} onInput=${setCode}
          autocomplete="one-time-code" inputmode="text" required />
        <button type="submit" disabled=${action.busy}>Verify</button>
        <button type="button" class="secondary" onClick=${() => setMfaToken(null)}>Start again</button>
      </form>
      <${ErrorBox} error=${action.error} />
    </div>`;
  }
  return html`<div class="narrow">
    <${Title}>Sign in to Parley<//>
    <${Notice}>${reason}<//>
    <form class="stack" onSubmit=${signIn}>
      <${Field} label="Email" type="email" value=${email} onInput=${setEmail} autocomplete="username" required />
      <${Field} label="Password" type="password" value=${password} onInput=${setPassword} autocomplete="current-password" required />
      <button type="submit" disabled=${action.busy}>Sign in</button>
    </form>
    <${ErrorBox} error=${action.error} />
  </div>`;
}

export function DevicesPage() {
  const list = usePagedList("/auth/sessions", { limit: 100 });
  const action = useAction();
  const revoke = (device) => {
    const question = device.current
      ? "Revoke this device? You will be signed out here."
      : `Revoke ${device.device}? It will be signed out at once.`;
    if (!confirm(question)) return;
    action.run(async () => {
      await api("DELETE", `/auth/sessions/${device.id}`);
      // The server has ended this login session: nothing is left to sign out of.
      if (device.current) forget("You revoked this device, so it is signed out.");
      else list.setItems((items) => items.filter((d) => d.id !== device.id));
    });
  };
  const everywhere = () => {
    if (!confirm("Sign out on every device, this one included?")) return;
    action.run(async () => {
      await api("POST", "/auth/logout-all");
      // Every login session has ended on the server, this one included.
      forget("You signed out on every device, this one included.");
    });
  };
  return html`
    <${Title}>Devices<//>
    <p class="muted">Each device signed in to your account. Revoking one signs it out at once.</p>
    <${ErrorBox} error=${action.error} />
    <ul class="cards">
      ${list.items.map(
        (d) => html`<li key=${d.id}>
          <h2 class="h3">${d.device}${d.current && html` <span class="badge">this device</span>`}</h2>
          <p class="muted small">${d.ip_address || "unknown address"} · signed in ${when(d.created_at)} · last used ${when(d.last_used_at)}</p>
          <button type="button" class="danger" onClick=${() => revoke(d)} aria-label=${`Revoke ${d.device}${d.current ? " (this device)" : ""}`}>Revoke</button>
        </li>`,
      )}
    </ul>
    <${ListFooter} list=${list} label="devices" />
    <button type="button" class="danger" onClick=${everywhere}>Sign out everywhere</button>
  `;
}

export function SecurityPage({ me, onChanged }) {
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [setup, setSetup] = useState(null);
  const [codes, setCodes] = useState(null);
  const [done, setDone] = useState("");
  const action = useAction();
  const reset = () => {
    setPassword("");
    setCode("");
  };
  const start = (event) => {
    event.preventDefault();
    action.run(async () => {
      setSetup(await api("POST", "/auth/mfa/totp/setup", { json: { password } }));
      reset();
    });
  };
  const confirmSetup = (event) => {
    event.preventDefault();
    action.run(async () => {
      const answer = await api("POST", "/auth/mfa/totp/confirm", { json: { code: code.trim() } });
      setCodes(answer.recovery_codes);
      setSetup(null);
      reset();
      setDone("Two-factor sign-in is on.");
      onChanged();
    });
  };
  const renew = (event) => {
    event.preventDefault();
    action.run(async () => {
      const answer = await api("POST", "/auth/mfa/recovery-codes", { json: { password, code: code.trim() } });
      setCodes(answer.recovery_codes);
      reset();
    });
  };
  const disable = () => {
    action.run(async () => {
      await api("DELETE", "/auth/mfa", { json: { password, code: code.trim() } });
      reset();
      setCodes(null);
      setDone("Two-factor sign-in is off.");
      onChanged();
    });
  };
  const passwordAndCode = html`
    <${Field} label="Password" type="password" value=${password} onInput=${setPassword} autocomplete="current-password" required />
    <${Field} label="Current code" value=${code} onInput=${setCode} autocomplete="one-time-code" required />`;
  return html`
    <${Title}>Security<//>
    <${Notice}>${done}<//>
    ${codes && html`<div class="secret" role="status">
      <p><strong>Recovery codes</strong> — shown only now; each works once.</p>
      <ul class="codes">${codes.map((c) => html`<li><code>${c}</code></li>`)}</ul>
    </div>`}
    <h2>Two-factor sign-in (TOTP)</h2>
    ${!me.mfa_enabled && !setup && html`<form class="stack" onSubmit=${start} aria-label="Set up two-factor sign-in">
      <p>Add a code from an authenticator app to your sign-in.</p>
      <${Field} label="Password" type="password" value=${password} onInput=${setPassword} autocomplete="current-password" required />
      <button type="submit" disabled=${action.busy}>Set up two-factor sign-in</button>
    </form>`}
    ${setup && html`<form class="stack" onSubmit=${confirmSetup} aria-label="Confirm two-factor sign-in">
      <p>Add this key to your authenticator app (or open the link on a phone that has one), then enter the code it shows.</p>
      <p><strong>Key:</strong> <code class="secret-value">${setup.secret}</code></p>
      <p><a href=${setup.otpauth_uri}>Open in an authenticator app</a></p>
      <${Field} label="Code from the app" value=${code} onInput=${setCode} autocomplete="one-time-code" required />
      <button type="submit" disabled=${action.busy}>Turn on</button>
    </form>`}
    ${me.mfa_enabled && html`<form class="stack" onSubmit=${renew} aria-label="Two-factor sign-in is on">
      <p>Two-factor sign-in is on. New recovery codes replace the old set; turning it off needs your password and a code.</p>
      ${passwordAndCode}
      <div class="row">
        <button type="submit" disabled=${action.busy}>New recovery codes</button>
        <button type="button" class="danger" disabled=${action.busy} onClick=${disable}>Turn off</button>
      </div>
    </form>`}
    <${ErrorBox} error=${action.error} />
  `;
}

export function ApiKeysPage() {
  const list = usePagedList("/api-keys", {});
  const [name, setName] = useState("");
  const [scope, setScope] = useState("read");
  const [days, setDays] = useState("");
  const [created, setCreated] = useState(null);
  const action = useAction();
  const create = (event) => {
    event.preventDefault();
    const body = { name, scope };
    if (days.trim()) body.expires_in_days = Number(days);
    action.run(async () => {
      const key = await api("POST", "/api-keys", { json: body });
      setCreated(key);
      setName("");
      setDays("");
      list.setItems((items) => [key, ...items]);
    });
  };
  const revoke = (key) => {
    if (!confirm(`Revoke the key ${key.name}? Integrations using it stop at once.`)) return;
    action.run(async () => {
      await api("DELETE", `/api-keys/${key.id}`);
      list.setItems((items) => items.filter((k) => k.id !== key.id));
    });
  };
  return html`
    <${Title}>API keys<//>
    ${created && html`<${Secret} label=${`Key ${created.name}`} value=${created.key} />`}
    <form class="stack" onSubmit=${create} aria-label="New API key">
      <${Field} label="Name" value=${name} onInput=${setName} required maxlength="100" />
      <${Select} label="Scope" value=${scope} onChange=${setScope} options=${[["read", "read (GET only)"], ["write", "write"]]} />
      <${Field} label="Expires in days (optional)" type="number" min="1" value=${days} onInput=${setDays} />
      <button type="submit" disabled=${action.busy}>Create key</button>
    </form>
    <${ErrorBox} error=${action.error} />
    <table class="cells">
      <caption>Your keys</caption>
      <thead><tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Scope</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>
        ${list.items.map(
          (k) => html`<tr key=${k.id}>
            <td data-label="Name">${k.name}</td><td data-label="Prefix"><code>${k.prefix}</code></td><td data-label="Scope">${k.scope}</td>
            <td data-label="Expires">${when(k.expires_at)}</td><td data-label="Last used">${when(k.last_used_at)}</td>
            <td><button type="button" class="danger" onClick=${() => revoke(k)} aria-label=${`Revoke ${k.name}`}>Revoke</button></td>
          </tr>`,
        )}
      </tbody>
    </table>
    <${ListFooter} list=${list} label="API keys" />
  `;
}

// An entry's details as "name: value" pairs, e.g. "name: Order bot · scope: write".
function details(value) {
  if (!value || typeof value !== "object" || !Object.keys(value).length) return value && typeof value !== "object" ? String(value) : "—";
  const shown = (v) => (Array.isArray(v) ? v.join(", ") : v !== null && typeof v === "object" ? JSON.stringify(v) : String(v));
  return Object.entries(value).map(([key, v]) => `${key}: ${shown(v)}`).join(" · ");
}

const AUDIT_FILTERS = { actor_id: "", action: "", since: "", until: "" };

export function AuditPage({ me }) {
  const [everyone, setEveryone] = useState(false);
  const [draft, setDraft] = useState(AUDIT_FILTERS);
  const [filters, setFilters] = useState(AUDIT_FILTERS);
  const query = { limit: 50 };
  if (everyone) {
    for (const [key, value] of Object.entries(filters)) {
      if (value) query[key] = key === "since" || key === "until" ? new Date(value).toISOString() : value;
    }
  }
  const list = usePagedList(everyone ? "/audit" : "/users/me/audit", query);
  useEffect(() => setFilters(AUDIT_FILTERS), [everyone]);
  const set = (key) => (value) => setDraft((d) => ({ ...d, [key]: value }));
  return html`
    <${Title}>Audit log<//>
    ${me.role === "admin" && html`<div class="row" role="group" aria-label="Whose history">
      <button type="button" class=${everyone ? "secondary" : ""} aria-pressed=${!everyone} onClick=${() => setEveryone(false)}>Mine</button>
      <button type="button" class=${everyone ? "" : "secondary"} aria-pressed=${everyone} onClick=${() => setEveryone(true)}>Everyone</button>
    </div>`}
    ${everyone && html`<form class="filters" onSubmit=${(e) => { e.preventDefault(); setFilters(draft); }} aria-label="Filter the audit log">
      <${Field} label="Actor id" value=${draft.actor_id} onInput=${set("actor_id")} />
      <${Field} label="Action" value=${draft.action} onInput=${set("action")} hint="e.g. auth.login" />
      <${Field} label="Since" type="datetime-local" value=${draft.since} onInput=${set("since")} />
      <${Field} label="Until" type="datetime-local" value=${draft.until} onInput=${set("until")} />
      <button type="submit" class="secondary">Filter</button>
    </form>`}
    <table class="cells">
      <caption>${everyone ? "Everyone's security history" : "Your security history"}, newest first</caption>
      <thead><tr><th scope="col">When</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">From</th><th scope="col">Details</th></tr></thead>
      <tbody>
        ${list.items.map(
          (e) => html`<tr key=${e.id}>
            <td class="nowrap" data-label="When">${when(e.created_at)}</td><td class="nowrap" data-label="Action"><code>${e.action}</code></td>
            <td data-label="Target">${e.target_type ? html`${e.target_type} <span title=${e.target_id}>${shortId(e.target_id || "")}</span>` : "—"}</td>
            <td class="nowrap" data-label="From">${e.ip_address || "—"}</td>
            <td class="small" data-label="Details">${details(e.details)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    <${ListFooter} list=${list} label="audit entries" />
  `;
}
