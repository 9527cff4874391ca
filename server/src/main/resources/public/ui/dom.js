// Building the page without parsing markup: every piece of text from the server goes in as a
// text node, so a cluster name or a refusal reason can never become markup.

/**
 * el('td', {class: 'x', 'data-testid': 'y'}, 'text', otherNode, null)
 * Attributes are set with setAttribute (on* handlers are refused); children that are
 * strings or numbers become text nodes; null/undefined/false children are skipped.
 */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (name.startsWith('on')) {
      throw new Error('el(): event handlers are added with addEventListener, not as attributes');
    }
    node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    if (Array.isArray(child)) {
      append(node, child);
    } else if (child instanceof Node) {
      node.appendChild(child);
    } else {
      node.appendChild(document.createTextNode(String(child)));
    }
  }
}

/** The same element with its children replaced. */
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function byTestId(id, root = document) {
  return root.querySelector(`[data-testid="${id}"]`);
}

/**
 * Runs render (which rebuilds part of root) and gives the focus back to the same control
 * if it was inside: a keyboard user is not thrown back to the top every refresh. A control
 * is known by its data-testid and the data-cluster/data-backup of its row.
 */
export function keepingFocus(root, render) {
  const active = document.activeElement;
  let selector = null;
  if (active && active !== root && root.contains(active) && active.dataset && active.dataset.testid) {
    selector = `[data-testid="${CSS.escape(active.dataset.testid)}"]`;
    for (const attr of ['cluster', 'backup']) {
      const holder = active.closest(`[data-${attr}]`);
      if (holder) {
        selector = `[data-${attr}="${CSS.escape(holder.dataset[attr])}"] ` + selector;
        if (holder === active) {
          selector = `[data-testid="${CSS.escape(active.dataset.testid)}"][data-${attr}="${CSS.escape(holder.dataset[attr])}"]`;
        }
      }
    }
  }
  render();
  if (selector && !root.contains(document.activeElement)) {
    const again = root.querySelector(selector);
    if (again) {
      again.focus({preventScroll: true});
    }
  }
}
