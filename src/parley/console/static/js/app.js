// The console's shell: who is signed in, the menu (features the server lacks stay hidden),
// and the page for the location's hash.

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, forget, logout, onAuthChange, publishedPaths, resume, signedIn } from "./api.js";
import { ApiKeysPage, AuditPage, DevicesPage, SecurityPage, SignInPage } from "./account.js";
import { UsersPage } from "./admin.js";
import { CataloguePage, SessionSellersPage, VendorPage } from "./catalog.js";
import { ConversationPage, SessionsPage } from "./chats.js";
import { ErrorBox, html } from "./ui.js";
import { WebhookPage, WebhooksPage } from "./webhooks.js";

// How often an idle page checks that its sign-in still stands (a device revoked elsewhere).
const CHECK_MS = 30000;

const ROUTES = [
  [/^#\/sessions\/([\w-]+)\/vendor$/, (m) => html`<${VendorPage} id=${m[1]} />`],
  [/^#\/sessions\/([\w-]+)\/sellers$/, (m) => html`<${SessionSellersPage} id=${m[1]} />`],
  [/^#\/sessions\/([\w-]+)$/, (m) => html`<${ConversationPage} id=${m[1]} />`],
  [/^#\/sellers$/, () => html`<${CataloguePage} />`],
  [/^#\/devices$/, () => html`<${DevicesPage} />`],
  [/^#\/security$/, (m, ctx) => html`<${SecurityPage} me=${ctx.me} onChanged=${ctx.reloadMe} />`],
  [/^#\/api-keys$/, () => html`<${ApiKeysPage} />`],
  [/^#\/audit$/, (m, ctx) => html`<${AuditPage} me=${ctx.me} />`],
  [/^#\/webhooks\/([\w-]+)$/, (m) => html`<${WebhookPage} id=${m[1]} />`],
  [/^#\/webhooks$/, () => html`<${WebhooksPage} />`],
  [/^#\/users$/, (m, ctx) => html`<${UsersPage} me=${ctx.me} />`],
];

// Menu entries: [hash, label, the API path that must exist, admins only]
const MENU = [
  ["#/sessions", "Chat sessions", null, false],
  ["#/sellers", "Catalogue", null, false],
  ["#/devices", "Devices", null, false],
  ["#/security", "Security", "/api/v1/auth/mfa/totp/setup", false],
  ["#/api-keys", "API keys", "/api/v1/api-keys", false],
  ["#/webhooks", "Webhooks", "/api/v1/webhooks", false],
  ["#/audit", "Audit log", "/api/v1/users/me/audit", false],
  ["#/users", "Users", null, true],
];

function useHash() {
  const [hash, setHash] = useState(location.hash || "#/sessions");
  useEffect(() => {
    const changed = () => setHash(location.hash || "#/sessions");
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return hash;
}

function Menu({ me, hash, paths }) {
  const [open, setOpen] = useState(false);
  const entries = MENU.filter(([, , path, admin]) => (!path || paths.has(path)) && (!admin || me.role === "admin"));
  const signOut = () => logout().catch(() => forget());
  return html`<header class="top">
    <a class="brand" href="#/sessions">Parley</a>
    <button type="button" class="menu-toggle secondary" aria-expanded=${open} aria-controls="menu" onClick=${() => setOpen(!open)}>Menu</button>
    <nav id="menu" class=${open ? "open" : ""} aria-label="Main">
      <ul>
        ${entries.map(
          ([href, label]) => html`<li><a href=${href} onClick=${() => setOpen(false)}
            aria-current=${hash === href || hash.startsWith(href + "/") ? "page" : undefined}>${label}</a></li>`,
        )}
      </ul>
    </nav>
    <div class="who">
      <span class="muted small">${me.email}${me.role === "admin" ? " (admin)" : ""}</span>
      <button type="button" class="secondary" onClick=${signOut}>Sign out</button>
    </div>
  </header>`;
}

function App() {
  const [state, setState] = useState(signedIn() ? "in" : "starting");
  const [reason, setReason] = useState(null);
  const [me, setMe] = useState(null);
  const [meError, setMeError] = useState(null);
  const [checkError, setCheckError] = useState(null);
  const [paths, setPaths] = useState(new Set());
  const hash = useHash();

  const reloadMe = () =>
    api("GET", "/users/me")
      .then((user) => {
        setMe(user);
        setMeError(null);
      })
      .catch(setMeError);

  useEffect(() => {
    const off = onAuthChange((isIn, why) => {
      if (!isIn) {
        setMe(null);
        setReason(why);
      }
      setState(isIn ? "in" : "out");
    });
    resume().then((ok) => {
      setState(ok ? "in" : "out");
      // The first screen a person can use: what the first-load measurement reads.
      requestAnimationFrame(() => performance.mark("parley:interactive"));
    });
    publishedPaths().then(setPaths);
    return off;
  }, []);

  useEffect(() => {
    if (state !== "in") return undefined;
    setCheckError(null);
    reloadMe();
    const timer = setInterval(() => {
      if (document.visibilityState !== "visible") return;
      // A 401 has already sent the page to sign-in; anything else is shown until it passes.
      api("GET", "/users/me").then(() => setCheckError(null), setCheckError);
    }, CHECK_MS);
    return () => clearInterval(timer);
  }, [state]);

  if (state === "starting") return html`<main id="main"><p role="status">Loading…</p></main>`;
  if (state === "out") return html`<main id="main"><${SignInPage} reason=${reason} /></main>`;
  if (!me) return html`<main id="main">${meError ? html`<${ErrorBox} error=${meError} />` : html`<p role="status">Loading…</p>`}</main>`;
  const route = ROUTES.find(([pattern]) => pattern.test(hash));
  const page = route
    ? route[1](hash.match(route[0]), { me, reloadMe })
    : html`<${SessionsPage} />`;
  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById("main").focus(); }}>Skip to content</a>
    <${Menu} me=${me} hash=${hash} paths=${paths} />
    ${checkError && html`<div class="banner"><${ErrorBox} error=${checkError} /></div>`}
    <main id="main" tabindex="-1" key=${hash}>${page}</main>
  `;
}

render(html`<${App} />`, document.getElementById("app"));
