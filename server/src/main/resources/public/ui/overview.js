import {el, replace} from './dom.js';
import * as f from './format.js';
import {healthLight, reasonsList, stateKind, tag} from './widgets.js';

/** The overview: one row per cluster (a card on a phone). */
export function renderOverview(view, status) {
  const clusters = status.clusters || [];
  const now = status.generatedAt;
  const heading = el('h1', {}, 'Clusters');
  if (clusters.length === 0) {
    return replace(view, heading, el('p', {'data-testid': 'no-clusters'},
      'No clusters yet (or none this token may see). Add one with pgvault cluster add.'));
  }
  const worst = clusters.some(c => c.health === 'critical') ? 'critical'
    : clusters.some(c => c.health === 'warning') ? 'warning' : 'ok';
  const summary = el('p', {class: 'summary', 'data-testid': 'summary'},
    clusters.length + (clusters.length === 1 ? ' cluster' : ' clusters') + ', ',
    clusters.filter(c => c.health === 'ok').length + ' healthy',
    worst === 'ok' ? '' : ', ' + clusters.filter(c => c.health !== 'ok').length + ' need attention');
  const table = el('table', {class: 'clusters cards', 'data-testid': 'clusters'},
    el('caption', {class: 'sr-only'}, 'Clusters, their health, archiving, streaming, backups and storage'),
    el('thead', {}, el('tr', {},
      ['Cluster', 'Health', 'Archiving', 'Streaming', 'Last backup', 'Storage'].map(h => el('th', {scope: 'col'}, h)))),
    el('tbody', {}, clusters.map(c => row(c, now))));
  return replace(view, heading, summary, table);
}

function row(c, now) {
  const a = c.archiving || {};
  const s = c.streaming;
  const b = c.backups || {};
  const st = c.storage || {};
  return el('tr', {'data-testid': 'cluster-row', 'data-cluster': c.name, 'data-health': c.health},
    el('th', {scope: 'row', 'data-label': 'Cluster'},
      el('a', {href: '#/cluster/' + encodeURIComponent(c.name), 'data-testid': 'cluster-link'}, c.name)),
    el('td', {'data-label': 'Health'}, healthLight(c.health, 'health'), reasonsList(c.reasons, 'reasons')),
    el('td', {'data-label': 'Archiving', 'data-testid': 'archiving'},
      tag(a.state || 'unknown', stateKind(a.state), 'archiving-state'), ' ',
      el('span', {title: f.time(a.lastArchivedAt)}, a.lastArchivedAt ? 'last ' + f.age(a.lastArchivedAt, now) : 'nothing archived'),
      a.lastFile ? el('div', {class: 'mono small'}, a.lastFile) : null,
      el('div', {class: 'small'}, (a.walFiles ?? 0) + ' WAL files')),
    el('td', {'data-label': 'Streaming', 'data-testid': 'streaming'}, s ? [
      tag(s.state, stateKind(s.state), 'streaming-state'),
      el('div', {class: 'small'}, 'RPO ' + f.seconds(s.rpoSeconds)),
      s.slot ? el('div', {class: 'small'}, 'slot ', el('span', {class: 'mono'}, s.slot), ' holds ' + f.bytes(s.slotRetainedBytes)) : null,
      s.lastError ? el('div', {class: 'small error-text'}, s.lastError) : null,
    ] : el('span', {class: 'muted'}, 'not streamed')),
    el('td', {'data-label': 'Last backup', 'data-testid': 'last-backup'}, backupCell(b, now)),
    el('td', {'data-label': 'Storage', 'data-testid': 'storage'},
      f.bytes(st.storedBytes), ' stored',
      el('div', {class: 'small'}, 'compression ' + f.ratio(st.compressionRatio))));
}

function backupCell(b, now) {
  const parts = [];
  if (b.lastSuccess) {
    parts.push(el('span', {title: f.time(b.lastSuccess.finishedAt)}, f.age(b.lastSuccess.finishedAt, now)));
  } else {
    parts.push(el('span', {class: 'muted'}, 'none yet'));
  }
  if (b.overdue) {
    parts.push(' ', tag('overdue', 'bad', 'overdue'));
  }
  if (b.running) {
    parts.push(' ', tag('running', 'warn', 'backup-running'));
  }
  parts.push(el('div', {class: 'small'}, b.schedule ? ['schedule ', el('span', {class: 'mono'}, b.schedule),
    b.nextDueAt ? ', next ' + f.time(b.nextDueAt) : ''] : 'no schedule'));
  if (b.lastFailure) {
    parts.push(el('div', {class: 'small error-text'}, 'failed ' + f.age(b.lastFailure.at, now) + ': ' + f.orDash(b.lastFailure.reason)));
  }
  return parts;
}
