import { useState } from "preact/hooks";
import { date } from "../format";
import type { ReferralTreeNode } from "../types";

/** Who referred whom, as a tree of buttons that open and close their branch. */
export function ReferralTree({ root }: { root: ReferralTreeNode }) {
  return (
    <ul class="tree" role="tree" aria-label={`Referrals of ${root.firstName} ${root.lastName}`} data-testid="referral-tree">
      <Node node={root} initiallyOpen />
    </ul>
  );
}

function Node({ node, initiallyOpen = false }: { node: ReferralTreeNode; initiallyOpen?: boolean }) {
  const [open, setOpen] = useState(initiallyOpen);
  const children = node.referrals;
  const label = (
    <span class="node-label">
      <strong>
        {node.firstName} {node.lastName}
      </strong>{" "}
      <span class="muted">{node.email}</span>
      {node.referralStatus && <span class={`badge ${node.referralStatus}`}>{node.referralStatus}</span>}
      {node.fraudScore ? <span class="badge pending" title={(node.fraudReasons ?? []).join(", ")}>fraud score {node.fraudScore}</span> : null}
      <span class="muted"> · joined {date(node.joinedAt)}</span>
    </span>
  );
  return (
    <li role="treeitem" aria-expanded={children.length ? open : undefined} data-node={node.email}>
      {children.length ? (
        <button type="button" class="secondary tree-toggle" aria-label={`${open ? "Collapse" : "Expand"} ${node.firstName} ${node.lastName}`} onClick={() => setOpen(!open)}>
          <span aria-hidden="true">{open ? "▾" : "▸"}</span> {children.length}
        </button>
      ) : (
        <span class="tree-leaf" aria-hidden="true">
          •
        </span>
      )}
      {label}
      {open && children.length > 0 && (
        <ul role="group">
          {children.map((c) => (
            <Node node={c} key={c.id} />
          ))}
        </ul>
      )}
    </li>
  );
}
