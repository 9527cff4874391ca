import * as api from './api.js';
import {byTestId, el, keepingFocus, replace} from './dom.js';
import {renderOverview} from './overview.js';
import {ClusterPage} from './cluster.js';
import * as f from './format.js';

const REFRESH_MS = 10000;

const view = byTestId('view');
const login = byTestId('login');
const loginMessage = byTestId('login-message');
const banner = byTestId('banner');
const updated = byTestId('updated');
const signOut = byTestId('sign-out');

let timer = null;
let page = null;      // the ClusterPage shown, if any
let route = null;     // {name: 'overview'} or {name: 'cluster', cluster}
let generation = 0;   // a refresh for a route left behind draws nothing

function parseRoute() {
  const m = /^#\/cluster\/([^/]+)$/.exec(window.location.hash);
  if (m) {
    return {name: 'cluster', cluster: decodeURIComponent(m[1])};
  }
  return {name: 'overview'};
}

function showLogin(message) {
  stop();
  view.hidden = true;
  login.hidden = false;
  signOut.hidden = true;
  loginMessage.hidden = !message;
  loginMessage.textContent = message || '';
  const input = byTestId('token-input');
  input.value = '';
  input.focus();
}

function showBanner(message) {
  banner.hidden = !message;
  banner.textContent = message || '';
}

async function refresh() {
  const mine = ++generation;
  try {
    if (route.name === 'overview') {
      // /v1/status first, always: it is where a missing or wrong token shows.
      const status = await api.get('/status');
      if (mine !== generation) {
        return;
      }
      keepingFocus(view, () => renderOverview(view, status));
      done(status.generatedAt);
    } else {
      const base = api.clusterPath(route.cluster);
      const [status, backups] = await Promise.all([api.get(base + '/status'), api.get(base + '/backups')]);
      if (mine !== generation) {
        return;
      }
      if (!page) {
        page = new ClusterPage(view, route.cluster);
        document.title = route.cluster + ' · pgvault';
      }
      keepingFocus(view, () => page.update(status, backups));
      done(status.generatedAt);
    }
  } catch (e) {
    if (mine !== generation) {
      return;
    }
    // No token, or one the server does not know: sign in (again). A 403 on one cluster's page
    // is that token's scope, shown there; on /v1/status it means the token is no use here.
    if (e.status === 401 || (e.auth && route.name === 'overview')) {
      showLogin(e.message);
      return;
    }
    showBanner('Could not refresh: ' + e.message);
    if (route.name === 'cluster' && !page) {
      replace(view, el('p', {class: 'error', 'data-testid': 'cluster-error'}, e.message), el('p', {}, el('a', {href: '#/'}, '← All clusters')));
    }
  }
}

function done(generatedAt) {
  showBanner(null);
  login.hidden = true;
  view.hidden = false;
  signOut.hidden = !api.token();
  updated.textContent = 'updated ' + f.time(generatedAt || new Date().toISOString());
}

function stop() {
  if (timer) {
    clearInterval(timer);
    timer = null;
  }
}

function start() {
  stop();
  refresh();
  timer = setInterval(() => {
    if (!document.hidden) {
      refresh();
    }
  }, REFRESH_MS);
}

function navigate() {
  route = parseRoute();
  if (page) {
    page.destroy();
    page = null;
  }
  document.title = 'pgvault';
  replace(view, el('p', {class: 'muted'}, 'Loading…'));
  generation++;
  if (!login.hidden) {
    return;
  }
  start();
  document.getElementById('main').focus({preventScroll: true});
}

byTestId('login-form').addEventListener('submit', e => {
  e.preventDefault();
  const value = byTestId('token-input').value.trim();
  if (!value) {
    return;
  }
  api.setToken(value);
  login.hidden = true;
  view.hidden = false;
  start();
});

signOut.addEventListener('click', () => {
  api.setToken(null);
  showLogin(null);
});

// The skip link moves the focus, not the route (#main is no page of this hash router).
document.querySelector('.skip').addEventListener('click', e => {
  e.preventDefault();
  document.getElementById('main').focus();
});

window.addEventListener('hashchange', navigate);
route = parseRoute();
// Without a stored token the first call goes out bare: a server without tokens answers it.
start();
