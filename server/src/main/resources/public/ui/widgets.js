import {el} from './dom.js';

const HEALTH = {
  ok: {symbol: '✓', word: 'OK'},
  warning: {symbol: '!', word: 'Warning'},
  critical: {symbol: '✕', word: 'Critical'},
};

/** A status light readable without colour: a symbol and a word, and the same as its label. */
export function healthLight(health, testid) {
  const h = HEALTH[health] || {symbol: '?', word: String(health)};
  const known = HEALTH[health] ? health : 'unknown';
  return el('span', {class: 'light light-' + known, 'data-testid': testid, 'data-health': known,
    role: 'img', 'aria-label': 'health: ' + h.word},
  el('span', {class: 'light-symbol', 'aria-hidden': 'true'}, h.symbol),
  el('span', {class: 'light-word', 'aria-hidden': 'true'}, h.word));
}

export function reasonsList(reasons, testid) {
  if (!reasons || reasons.length === 0) {
    return null;
  }
  return el('ul', {class: 'reasons', 'data-testid': testid}, reasons.map(r => el('li', {}, r)));
}

/** A word in a small box (archiving "failing", backup "overdue"...), class by meaning. */
export function tag(text, kind, testid) {
  return el('span', {class: 'tag tag-' + kind, 'data-testid': testid}, text);
}

export function stateKind(state) {
  switch (state) {
    case 'ok':
    case 'streaming':
    case 'complete':
      return 'good';
    case 'idle':
    case 'connecting':
    case 'retrying':
    case 'running':
    case 'incomplete':
    case 'never':
      return 'warn';
    case 'failing':
    case 'stopped':
    case 'failed':
      return 'bad';
    default:
      return 'plain';
  }
}
