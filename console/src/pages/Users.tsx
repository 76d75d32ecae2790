import { useState } from "preact/hooks";
import { ariaFor, Field } from "../components/Field";
import { Page } from "../components/Layout";
import { Async } from "../components/States";
import { users } from "../endpoints";
import { date } from "../format";
import { navigate, useLoad } from "../hooks";
import type { UserListItem } from "../types";

const PAGE_SIZE = 50;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function Users() {
  const [offset, setOffset] = useState(0);
  const [search, setSearch] = useState("");
  const load = useLoad(() => users.list(PAGE_SIZE, offset), [offset]);
  const needle = search.trim().toLowerCase();
  const matches = (u: UserListItem) => !needle || `${u.firstName} ${u.lastName} ${u.email} ${u.role}`.toLowerCase().includes(needle);
  return (
    <Page title="Users">
      <form
        class="row"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          if (UUID.test(search.trim())) navigate(`users/${search.trim()}`);
        }}
      >
        <Field id="user-search" label="Find by name, email or role on this page, or open a user by id" hint="Newest users first">
          <input {...ariaFor("user-search")} type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </Field>
      </form>
      <Async load={load} isEmpty={(d) => d.users.length === 0} empty="No users here.">
        {(d) => {
          const rows = d.users.filter(matches);
          return (
            <>
              {rows.length === 0 ? (
                <p class="state empty">No user on this page matches “{search}”.</p>
              ) : (
                <div class="table-wrap">
                  <table data-testid="users">
                    <thead>
                      <tr>
                        <th scope="col">Name</th>
                        <th scope="col">Email</th>
                        <th scope="col">Role</th>
                        <th scope="col">Status</th>
                        <th scope="col" class="num">Referrals</th>
                        <th scope="col">Joined</th>
                      </tr>
                    </thead>
                    <tbody>
                      {rows.map((u) => (
                        <tr key={u.id} data-email={u.email}>
                          <th scope="row">
                            <a href={`#/users/${u.id}`}>
                              {u.firstName} {u.lastName}
                            </a>
                          </th>
                          <td>{u.email}</td>
                          <td>{u.role}</td>
                          <td>{u.blocked ? <span class="badge failed">blocked</span> : u.status}</td>
                          <td class="num">{u.referrals.length}</td>
                          <td>{date(u.createdAt)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
              <nav class="pager" aria-label="Pages">
                <button type="button" class="secondary" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE_SIZE))}>
                  Newer
                </button>
                <span>
                  {offset + 1}–{offset + d.users.length}
                </span>
                <button type="button" class="secondary" disabled={d.users.length < PAGE_SIZE} onClick={() => setOffset(offset + PAGE_SIZE)}>
                  Older
                </button>
              </nav>
            </>
          );
        }}
      </Async>
    </Page>
  );
}
