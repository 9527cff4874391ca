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
