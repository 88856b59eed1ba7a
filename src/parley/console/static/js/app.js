// The console's shell: who is signed in, the menu (features the server lacks stay hidden),
// and the page for the location's hash.

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { checkSignIn, describeError, logout, onAuthChange, publishedPaths, resume, signedIn } from "./api.js";
import { ApiKeysPage, AuditPage, DevicesPage, SecurityPage, SignInPage } from "./account.js";
import { UsersPage } from "./admin.js";
import { CataloguePage, SessionSellersPage, VendorPage } from "./catalog.js";
import { ConversationPage, SessionsPage } from "./chats.js";
import { ErrorBox, Title, html } from "./ui.js";
import { WebhookPage, WebhooksPage } from "./webhooks.js";

// How often an idle page checks that its sign-in still stands (a device revoked elsewhere);
// an open conversation notices sooner, when its event stream closes.
const CHECK_MS = 30000;
// How often a reload that could not reach the server tries again by itself.
const RESUME_RETRY_MS = 10000;

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

function Menu({ me, hash, paths, onSignOutFailed }) {
  const [open, setOpen] = useState(false);
  const entries = MENU.filter(([, , path, admin]) => (!path || paths.has(path)) && (!admin || me.role === "admin"));
  // A sign-out the server did not confirm leaves the page signed in, saying so.
  const signOut = () => {
    onSignOutFailed(null);
    logout().catch(onSignOutFailed);
  };
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

// The menu reads which features the server has from /openapi.json; when that fails, the
// features it gates stay hidden and the page says so, asking again on the next navigation.
function usePublishedPaths(hash) {
  const [paths, setPaths] = useState(new Set());
  const [error, setError] = useState(null);
  const load = () =>
    publishedPaths().then(
      (found) => {
        setPaths(found);
        setError(null);
      },
      setError,
    );
  useEffect(() => {
    load();
  }, []);
  useEffect(() => {
    if (error) load();
  }, [hash]);
  return { paths, error, retry: load };
}

function PathsError({ error, onRetry }) {
  if (!error) return null;
  return html`<div class="banner"><div class="error" role="alert">
    The menu could not learn which features the server offers: ${describeError(error)} Security,
    API keys, Webhooks and the Audit log stay hidden until it does.
    <button type="button" class="secondary" onClick=${onRetry}>Try again</button>
  </div></div>`;
}

function App() {
  const [state, setState] = useState(signedIn() ? "in" : "starting");
  const [reason, setReason] = useState(null);
  const [resumeError, setResumeError] = useState(null);
  const [me, setMe] = useState(null);
  const [meError, setMeError] = useState(null);
  const [checkError, setCheckError] = useState(null);
  const [signOutError, setSignOutError] = useState(null);
  const hash = useHash();
  const features = usePublishedPaths(hash);

  const reloadMe = () =>
    checkSignIn()
      .then((user) => {
        setMe(user);
        setMeError(null);
      })
      .catch(setMeError);

  // A reload trades the stored refresh token for tokens. Only a 401 ends the sign-in (the
  // page says why); any other failure keeps the token, says what went wrong and tries again.
  const tryResume = () =>
    resume().then(
      (ok) => {
        setResumeError(null);
        setState(ok ? "in" : "out");
      },
      (failure) => {
        setResumeError(failure);
        setState("stalled");
      },
    );

  useEffect(() => {
    const off = onAuthChange((isIn, why) => {
      if (!isIn) {
        setMe(null);
        setReason(why);
        setSignOutError(null);
      }
      setState(isIn ? "in" : "out");
    });
    tryResume().then(() => {
      // The first screen a person can use: what the first-load measurement reads.
      requestAnimationFrame(() => performance.mark("parley:interactive"));
    });
    return off;
  }, []);

  useEffect(() => {
    if (state !== "stalled") return undefined;
    const timer = setInterval(tryResume, RESUME_RETRY_MS);
    addEventListener("online", tryResume);
    return () => {
      clearInterval(timer);
      removeEventListener("online", tryResume);
    };
  }, [state]);

  useEffect(() => {
    if (state !== "in") return undefined;
    setCheckError(null);
    reloadMe();
    // A 401 has already sent the page to sign-in; anything else is shown until it passes.
    const check = () => checkSignIn().then(() => setCheckError(null), setCheckError);
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") check();
    }, CHECK_MS);
    // A tab shown again checks at once: it may have been revoked while hidden.
    const shown = () => {
      if (document.visibilityState === "visible") check();
    };
    document.addEventListener("visibilitychange", shown);
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", shown);
    };
  }, [state]);

  if (state === "starting") return html`<main id="main"><p role="status">Loading…</p></main>`;
  if (state === "stalled") {
    return html`<main id="main"><div class="narrow">
      <${Title}>Parley<//>
      <${ErrorBox} error=${resumeError} />
      <p>Your sign-in is kept in this tab; the page tries again every ${RESUME_RETRY_MS / 1000} seconds.</p>
      <button type="button" onClick=${tryResume}>Try again</button>
    </div></main>`;
  }
  if (state === "out") return html`<main id="main"><${SignInPage} reason=${reason} /></main>`;
  if (!me) {
    return html`<main id="main">${meError
      ? html`<${ErrorBox} error=${meError} /><button type="button" onClick=${reloadMe}>Try again</button>`
      : html`<p role="status">Loading…</p>`}</main>`;
  }
  const route = ROUTES.find(([pattern]) => pattern.test(hash));
  const page = route
    ? route[1](hash.match(route[0]), { me, reloadMe })
    : html`<${SessionsPage} />`;
  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById("main").focus(); }}>Skip to content</a>
    <${Menu} me=${me} hash=${hash} paths=${features.paths} onSignOutFailed=${setSignOutError} />
    ${signOutError && html`<div class="banner"><${ErrorBox} error=${signOutError} /></div>`}
    ${checkError && html`<div class="banner"><${ErrorBox} error=${checkError} /></div>`}
    <${PathsError} error=${features.error} onRetry=${features.retry} />
    <main id="main" tabindex="-1" key=${hash}>${page}</main>
  `;
}

render(html`<${App} />`, document.getElementById("app"));
