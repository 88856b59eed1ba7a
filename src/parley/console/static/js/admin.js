// Administrators: users (search, role, disable, delete).

import { useState } from "preact/hooks";
import { api } from "./api.js";
import { ErrorBox, Field, ListFooter, Select, Title, html, useAction, usePagedList, when } from "./ui.js";

export function UsersPage({ me }) {
  const [q, setQ] = useState("");
  const [role, setRole] = useState("");
  const [active, setActive] = useState("");
  const [filters, setFilters] = useState({});
  const list = usePagedList("/users", { ...filters, limit: 50 });
  const action = useAction();
  const replace = (user) => list.setItems((items) => items.map((u) => (u.id === user.id ? user : u)));
  const update = (user, body) => action.run(async () => replace(await api("PATCH", `/users/${user.id}`, { json: body })));
  const remove = (user) => {
    if (!confirm(`Delete ${user.email} and everything the account owns?`)) return;
    action.run(async () => {
      await api("DELETE", `/users/${user.id}`);
      list.setItems((items) => items.filter((u) => u.id !== user.id));
    });
  };
  const search = (event) => {
    event.preventDefault();
    setFilters({ q: q.trim(), role, is_active: active });
  };
  return html`
    <${Title}>Users<//>
    <form class="filters" role="search" onSubmit=${search}>
      <${Field} label="Search email or username" type="search" value=${q} onInput=${setQ} />
      <${Select} label="Role" value=${role} onChange=${setRole} options=${[["", "any"], ["user", "user"], ["admin", "admin"]]} />
      <${Select} label="Status" value=${active} onChange=${setActive} options=${[["", "any"], ["true", "active"], ["false", "disabled"]]} />
      <button type="submit" class="secondary">Search</button>
    </form>
    <${ErrorBox} error=${action.error} />
    <table class="cells">
      <caption>Users</caption>
      <thead><tr><th scope="col">Email</th><th scope="col">Username</th><th scope="col">Role</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>
        ${list.items.map((u) => {
          // Rows being reloaded are not changed: the reload, read before the change, would undo it on screen.
          const locked = u.id === me.id || action.busy || list.loading;
          return html`<tr key=${u.id}>
            <td data-label="Email">${u.email}</td><td data-label="Username">${u.username || "—"}</td>
            <td data-label="Role">
              <label class="sr-only" for=${`role-${u.id}`}>Role of ${u.email}</label>
              <select id=${`role-${u.id}`} value=${u.role} disabled=${locked}
                onChange=${(e) => update(u, { role: e.currentTarget.value })}>
                <option value="user">user</option><option value="admin">admin</option>
              </select>
            </td>
            <td data-label="Status">${u.is_active ? "active" : "disabled"}</td>
            <td data-label="Created">${when(u.created_at)}</td>
            <td class="actions">
              <button type="button" class="secondary" disabled=${locked}
                onClick=${() => update(u, { is_active: !u.is_active })}
                aria-label=${`${u.is_active ? "Disable" : "Enable"} ${u.email}`}>${u.is_active ? "Disable" : "Enable"}</button>
              <button type="button" class="danger" disabled=${locked} onClick=${() => remove(u)}
                aria-label=${`Delete ${u.email}`}>Delete</button>
            </td>
          </tr>`;
        })}
      </tbody>
    </table>
    <${ListFooter} list=${list} label="users" />
  `;
}
