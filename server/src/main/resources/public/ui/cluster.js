import {el, replace} from './dom.js';
import * as api from './api.js';
import * as f from './format.js';
import {healthLight, reasonsList, stateKind, tag} from './widgets.js';

/**
 * One cluster: its recovery window per timeline, the recovery planner, the backups, WAL
 * arrival over the last day and recent events. Built once per visit; update() redraws
 * everything but the planner (a plan shown stays while the page refreshes).
 */
export class ClusterPage {
  constructor(view, name) {
    this.name = name;
    this.head = el('div', {class: 'cluster-head'});
    this.windowBox = el('div', {'data-testid': 'window'});
    this.backupsBox = el('div', {'data-testid': 'backups'});
    this.chartBox = el('div', {class: 'chart', 'data-testid': 'wal-chart'});
    this.chartTable = el('div');
    this.eventsBox = el('div', {'data-testid': 'events'});
    this.planner = new Planner(name);
    this.chart = null;
    this.onResize = () => {
      if (this.chart) {
        this.chart.setSize({width: Math.max(280, this.chartBox.clientWidth), height: 200});
      }
    };
    window.addEventListener('resize', this.onResize);
    replace(view,
      el('nav', {class: 'crumbs', 'aria-label': 'Breadcrumb'}, el('a', {href: '#/', 'data-testid': 'back'}, '← All clusters')),
      this.head,
      section('Recovery window', 'window-title', this.windowBox),
      section('Recovery planner', 'planner-title', this.planner.root),
      section('Backups', 'backups-title', this.backupsBox),
      section('WAL arrival, last 24 hours', 'chart-title', this.chartBox,
        el('details', {class: 'chart-data'}, el('summary', {}, 'The same as a table'), this.chartTable)),
      section('Recent events', 'events-title', this.eventsBox));
  }

  update(status, backups) {
    this.now = status.generatedAt || new Date().toISOString();
    replace(this.head,
      el('h1', {'data-testid': 'cluster-name'}, status.name),
      el('div', {class: 'head-status'}, healthLight(status.health, 'cluster-health'), reasonsList(status.reasons, 'cluster-reasons')),
      facts(status, this.now));
    this.drawWindow(status, backups);
    replace(this.backupsBox, backupsTable(backups));
    this.drawChart(status.walArrivals || []);
    replace(this.eventsBox, eventsList(status.events || []));
  }

  drawWindow(status, backups) {
    const timelines = status.timelines || [];
    const complete = backups.filter(b => b.status === 'complete' && b.finishedAt);
    const times = [];
    for (const t of timelines) {
      times.push(t.start, t.end);
    }
    for (const b of complete) {
      times.push(b.startedAt, b.finishedAt);
    }
    const ms = times.filter(Boolean).map(t => new Date(t).getTime());
    if (timelines.length === 0 || ms.length === 0) {
      replace(this.windowBox, el('p', {class: 'muted', 'data-testid': 'no-window'},
        'No recovery window yet: it starts at the end of the first complete backup.'));
      return;
    }
    const lo = Math.min(...ms);
    const hi = Math.max(...ms, new Date(this.now).getTime());
    const span = Math.max(1, hi - lo);
    const pct = iso => ((new Date(iso).getTime() - lo) / span) * 100;
    const streaming = status.streaming && status.streaming.state === 'streaming';
    const rows = timelines.map(t => {
      const track = el('div', {class: 'track', 'data-testid': 'axis-track', 'data-timeline': t.timeline,
        title: 'Click a point to plan a recovery to that time'});
      if (t.start && t.end) {
        track.appendChild(positioned(el('div', {class: 'range', 'data-testid': 'window-range'}), pct(t.start), pct(t.end)));
      }
      if (streaming && t.end && t === timelines[timelines.length - 1]) {
        track.appendChild(positioned(el('div', {class: 'tail', title: 'streamed, not yet in a closed segment'}), pct(t.end), 100));
      }
      for (const g of t.gaps || []) {
        if (g.after && g.before) {
          track.appendChild(positioned(el('div', {class: 'gap', 'data-testid': 'window-gap',
            title: 'missing WAL ' + g.from + ' – ' + g.to}), pct(g.after), pct(g.before)));
        }
      }
      for (const b of complete.filter(b => b.timeline === undefined || b.timeline === null || b.timeline === t.timeline)) {
        const marker = el('button', {type: 'button', class: 'marker', 'data-testid': 'axis-backup', 'data-backup': b.id,
          'aria-label': 'plan a recovery to the end of backup ' + b.id + ' (' + f.time(b.finishedAt) + ')',
          title: 'backup ' + b.id + ', finished ' + f.time(b.finishedAt)});
        marker.style.left = pct(b.finishedAt) + '%';
        marker.addEventListener('click', e => {
          e.stopPropagation();
          // By its end LSN, not its time: the time is pgvault's clock, which need not be PostgreSQL's. Exclusive: the
          // recovery stops at the backup's consistency point, before whatever record follows it; on this track's timeline.
          if (b.endLsn) {
            this.planner.planTarget('lsn', b.endLsn, {'target-exclusive': 'true', 'target-timeline': String(t.timeline)});
          } else {
            this.planner.planTime(b.finishedAt);
          }
        });
        track.appendChild(marker);
      }
      track.addEventListener('click', e => {
        const box = track.getBoundingClientRect();
        const x = Math.min(1, Math.max(0, (e.clientX - box.left) / box.width));
        this.planner.planTime(new Date(lo + x * span).toISOString());
      });
      const gaps = (t.gaps || []).map(g => el('li', {class: 'error-text'}, 'missing WAL ' + g.from + ' to ' + g.to
        + (g.after ? ' (after ' + f.time(g.after) + ')' : '')));
      return el('div', {class: 'timeline', 'data-testid': 'timeline'},
        el('div', {class: 'timeline-label'}, 'Timeline ' + t.timeline),
        track,
        el('p', {class: 'small', 'data-testid': 'timeline-text'},
          t.start ? 'recoverable from ' + f.time(t.start) + ' to ' + f.time(t.end) : 'no complete backup on this timeline',
          ' (segments ', el('span', {class: 'mono'}, f.orDash(t.firstSegment)), ' to ', el('span', {class: 'mono'}, f.orDash(t.lastSegment)), ')'),
        gaps.length ? el('ul', {class: 'gaps'}, gaps) : null);
    });
    const ticks = el('div', {class: 'ticks', 'aria-hidden': 'true'});
    for (let i = 0; i <= 4; i++) {
      const tick = el('span', {class: 'tick'}, f.time(new Date(lo + (span * i) / 4).toISOString()).replace(' UTC', ''));
      tick.style.left = (i * 25) + '%';
      ticks.appendChild(tick);
    }
    replace(this.windowBox,
      el('div', {class: 'axis'}, rows, ticks),
      el('p', {class: 'legend small'},
        el('span', {class: 'key key-range'}), ' recoverable ',
        el('span', {class: 'key key-gap'}), ' missing WAL ',
        el('span', {class: 'key key-tail'}), ' streamed tail ',
        el('span', {class: 'key key-marker'}), ' backup (end). Click the axis to plan a recovery to that time, or a backup to its end.'));
  }

  drawChart(arrivals) {
    if (this.chart) {
      this.chart.destroy();
      this.chart = null;
    }
    replace(this.chartTable, arrivalTable(arrivals));
    if (arrivals.length === 0) {
      replace(this.chartBox, el('p', {class: 'muted'}, 'No WAL arrived in the last 24 hours.'));
      return;
    }
    if (typeof window.uPlot !== 'function') {
      replace(this.chartBox, el('p', {class: 'muted'}, 'The chart library did not load; the table below has the figures.'));
      return;
    }
    replace(this.chartBox);
    const xs = arrivals.map(a => new Date(a.hour).getTime() / 1000);
    const files = arrivals.map(a => a.files);
    const width = Math.max(280, this.chartBox.clientWidth || 600);
    const bars = window.uPlot.paths && window.uPlot.paths.bars ? window.uPlot.paths.bars({size: [0.7, 40]}) : undefined;
    this.chart = new window.uPlot({
      width,
      height: 200,
      tzDate: ts => window.uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      scales: {x: {time: true}, y: {range: (u, min, max) => [0, Math.max(1, max)]}},
      axes: [{}, {label: 'segments per hour'}],
      series: [
        {label: 'hour (UTC)'},
        {label: 'segments', stroke: '#1f5fa8', fill: 'rgba(31, 95, 168, 0.45)', paths: bars, points: {show: false}},
      ],
    }, [xs, files], this.chartBox);
  }

  destroy() {
    window.removeEventListener('resize', this.onResize);
    if (this.chart) {
      this.chart.destroy();
      this.chart = null;
    }
  }
}

function section(title, id, ...content) {
  return el('section', {class: 'panel', 'aria-labelledby': id}, el('h2', {id}, title), content);
}

function positioned(node, fromPct, toPct) {
  const a = Math.max(0, Math.min(100, fromPct));
  const b = Math.max(0, Math.min(100, toPct));
  node.style.left = a + '%';
  node.style.width = Math.max(0.4, b - a) + '%';
  return node;
}

function facts(s, now) {
  const a = s.archiving || {};
  const b = s.backups || {};
  const st = s.storage || {};
  const w = s.window || {};
  const rows = [
    ['Archiving', [tag(a.state || 'unknown', stateKind(a.state), 'cluster-archiving-state'), ' last ', f.age(a.lastArchivedAt, now),
      ' (', el('span', {class: 'mono'}, f.orDash(a.lastFile)), ')']],
    ['Last refusal', a.lastRefusal ? el('span', {'data-testid': 'last-refusal'}, f.time(a.lastRefusal.at) + ': HTTP '
      + f.orDash(a.lastRefusal.status) + ' for ', el('span', {class: 'mono'}, f.orDash(a.lastRefusal.file)), ': '
      + f.orDash(a.lastRefusal.message)) : 'none'],
    ['Streaming', s.streaming ? [tag(s.streaming.state, stateKind(s.streaming.state)), ' flushed ', f.orDash(s.streaming.flushedLsn),
      ', lag ', f.bytes(s.streaming.lagBytes), ', RPO ', f.seconds(s.streaming.rpoSeconds)] : 'not streamed'],
    ['Backups', [String(b.count ?? 0), ' stored; last ', b.lastSuccess ? f.age(b.lastSuccess.finishedAt, now) : 'never',
      b.overdue ? [' ', tag('overdue', 'bad', 'cluster-overdue')] : null, b.running ? [' ', tag('running ' + b.running, 'warn')] : null,
      b.schedule ? [', schedule ', el('span', {class: 'mono'}, b.schedule)] : ', no schedule']],
    ['Window', [f.time(w.start), ' to ', f.time(w.end), w.gaps ? [' ', tag(w.gaps + (w.gaps === 1 ? ' gap' : ' gaps') + ' after the newest backup', 'bad')] : null]],
    ['Storage', [f.bytes(st.storedBytes), ' stored (WAL ', f.bytes(st.walStoredBytes), ', backups ', f.bytes(st.backupStoredBytes),
      '), compression ', f.ratio(st.compressionRatio)]],
  ];
  // A refusal's message is long: its line spans the whole width.
  return el('dl', {class: 'facts', 'data-testid': 'facts'},
    rows.map(([k, v]) => el('div', {class: k === 'Last refusal' && s.archiving && s.archiving.lastRefusal ? 'wide' : null},
      el('dt', {}, k), el('dd', {}, v))));
}

function backupsTable(backups) {
  if (backups.length === 0) {
    return el('p', {class: 'muted', 'data-testid': 'no-backups'}, 'No backups yet.');
  }
  const sorted = [...backups].sort((x, y) => String(y.startedAt || '').localeCompare(String(x.startedAt || '')));
  return el('div', {class: 'scroll'}, el('table', {class: 'backups cards', 'data-testid': 'backups-table'},
    el('caption', {class: 'sr-only'}, 'Backups, newest first'),
    el('thead', {}, el('tr', {}, ['Backup', 'Status', 'Started', 'Finished', 'Duration', 'LSNs', 'Size'].map(h => el('th', {scope: 'col'}, h)))),
    el('tbody', {}, sorted.map(b => el('tr', {'data-testid': 'backup-row', 'data-backup': b.id, 'data-status': b.status},
      el('th', {scope: 'row', class: 'mono', 'data-label': 'Backup'}, b.id,
        b.type ? el('div', {class: 'small', 'data-testid': 'backup-type'}, b.type + (b.parent ? ' on ' + b.parent : '')) : null),
      el('td', {'data-label': 'Status', 'data-testid': 'backup-status'}, tag(b.status, stateKind(b.status)),
        b.reason ? el('div', {class: 'small error-text', 'data-testid': 'backup-reason'}, b.reason) : null,
        b.status === 'running' && b.estimatedBytes ? el('div', {class: 'small'},
          f.bytes(b.receivedBytes) + ' of about ' + f.bytes(b.estimatedBytes)) : null),
      el('td', {'data-label': 'Started'}, f.time(b.startedAt)),
      el('td', {'data-label': 'Finished'}, f.time(b.finishedAt)),
      el('td', {'data-label': 'Duration'}, f.seconds(b.durationSeconds)),
      el('td', {'data-label': 'LSNs', class: 'mono'}, f.orDash(b.startLsn) + ' → ' + f.orDash(b.endLsn),
        b.timeline ? el('div', {class: 'small'}, 'timeline ' + b.timeline) : null),
      el('td', {'data-label': 'Size', 'data-testid': 'backup-size'}, f.bytes(b.rawBytes),
        el('div', {class: 'small'}, f.bytes(b.storedBytes) + ' stored'
          + (b.pieces ? ', ' + b.pieces + (b.pieces === 1 ? ' piece' : ' pieces') : ''))))))));
}

function arrivalTable(arrivals) {
  return el('table', {class: 'compact'},
    el('thead', {}, el('tr', {}, el('th', {scope: 'col'}, 'Hour (UTC)'), el('th', {scope: 'col'}, 'Segments'), el('th', {scope: 'col'}, 'Raw bytes'))),
    el('tbody', {}, arrivals.map(a => el('tr', {}, el('td', {}, f.time(a.hour)), el('td', {}, String(a.files)), el('td', {}, f.bytes(a.rawBytes))))));
}

function eventsList(events) {
  if (events.length === 0) {
    return el('p', {class: 'muted', 'data-testid': 'no-events'}, 'No events since the server started.');
  }
  return el('ol', {class: 'events'}, events.map(e => el('li', {'data-testid': 'event', 'data-kind': e.kind},
    el('time', {datetime: e.at}, f.time(e.at)), ' ', tag(e.kind, e.kind === 'refusal' ? 'warn' : 'bad'), ' ',
    e.status ? 'HTTP ' + e.status + ' ' : '', e.file ? el('span', {class: 'mono'}, e.file) : null, e.file ? ': ' : '', e.message)));
}

const KINDS = [
  ['time', 'Time', 'target-time', '2026-12-04 18:00:00Z'],
  ['lsn', 'LSN', 'target-lsn', '0/5A3F2C8'],
  ['xid', 'Transaction id', 'target-xid', '12345'],
  ['name', 'Restore point', 'target-name', 'before-migration'],
  ['latest', 'Latest', null, null],
  ['immediate', 'End of a backup (immediate)', null, null],
];

/** The planner: a target in, the server's plan out (or its reason why not). */
class Planner {
  constructor(cluster) {
    this.cluster = cluster;
    this.kind = el('select', {id: 'plan-kind', 'data-testid': 'plan-kind'}, KINDS.map(([v, label]) => el('option', {value: v}, label)));
    this.value = el('input', {id: 'plan-value', type: 'text', autocomplete: 'off', spellcheck: 'false', 'data-testid': 'plan-value'});
    this.hint = el('p', {class: 'small muted', id: 'plan-hint'});
    this.value.setAttribute('aria-describedby', 'plan-hint');
    this.result = el('div', {'data-testid': 'plan-result', 'aria-live': 'polite'});
    const form = el('form', {class: 'planner', 'data-testid': 'plan-form'},
      el('div', {class: 'field'}, el('label', {for: 'plan-kind'}, 'Target'), this.kind),
      el('div', {class: 'field grow'}, el('label', {for: 'plan-value'}, 'Value'), this.value),
      el('button', {type: 'submit', 'data-testid': 'plan-submit'}, 'Plan recovery'));
    this.kind.addEventListener('change', () => this.syncKind());
    form.addEventListener('submit', e => {
      e.preventDefault();
      this.extra = {};
      this.plan();
    });
    // Parameters a click adds that the form does not show (a backup's timeline, an exclusive target).
    this.extra = {};
    this.root = el('div', {}, form, this.hint, this.result);
    this.syncKind();
  }

  syncKind() {
    const k = KINDS.find(x => x[0] === this.kind.value);
    this.value.disabled = !k[2];
    this.value.placeholder = k[3] || '';
    this.hint.textContent = k[0] === 'time' ? 'A time in UTC unless it gives its offset, e.g. 2026-12-04 18:00:00.250Z or 2026-12-04T19:00:00+01:00.'
      : k[2] ? 'The ' + k[1].toLowerCase() + ' to stop after.' : k[0] === 'latest' ? 'Everything archived.' : 'The end of the newest backup.';
  }

  planTime(iso) {
    this.planTarget('time', iso);
  }

  planTarget(kind, value, extra = {}) {
    this.kind.value = kind;
    this.syncKind();
    this.value.value = value;
    this.extra = extra;
    this.plan();
  }

  async plan() {
    const k = KINDS.find(x => x[0] === this.kind.value);
    const params = {};
    if (k[2]) {
      const v = this.value.value.trim();
      if (!v) {
        this.showError('Give a ' + k[1].toLowerCase() + ' first.');
        this.value.focus();
        return;
      }
      params[k[2]] = k[0] === 'time' ? isoTime(v) : v;
    } else {
      params.target = k[0];
    }
    Object.assign(params, this.extra);
    replace(this.result, el('p', {class: 'muted'}, 'Planning…'));
    try {
      this.show(await api.get(api.clusterPath(this.cluster) + '/plan', params));
    } catch (e) {
      this.showError(e.message, e.status);
    }
  }

  showError(message, status) {
    replace(this.result, el('div', {class: 'plan-error', role: 'alert', 'data-testid': 'plan-error', 'data-status': status || ''},
      el('strong', {}, status === 422 ? 'Not recoverable: ' : status === 400 ? 'Not understood: ' : 'Could not plan: '), message));
  }

  show(p) {
    const b = p.backup || {};
    const e = p.estimate || {};
    const code = el('code', {'data-testid': 'plan-command'}, p.command);
    const copy = el('button', {type: 'button', class: 'copy', 'data-testid': 'plan-copy'}, 'Copy command');
    copy.addEventListener('click', () => copyText(code, copy));
    replace(this.result, el('div', {class: 'plan', 'data-testid': 'plan'},
      el('dl', {class: 'facts'},
        pair('Target', p.target ? p.target.kind + (p.target.value ? ' ' + p.target.value : '') : '—'),
        pair('Backup', el('span', {'data-testid': 'plan-backup', class: 'mono'}, b.id),
          ' finished ' + f.time(b.finishedAt) + ', ' + f.bytes(b.storedBytes) + ' stored (' + f.bytes(b.rawBytes) + ')'),
        pair('Timeline', String(p.timeline ?? '—')),
        pair('WAL to replay', el('span', {'data-testid': 'plan-wal'}, (p.walSegments ?? 0) + ' segments, ' + f.bytes(p.walBytes))),
        pair('Estimated time', el('span', {'data-testid': 'plan-rto'}, f.seconds(e.totalSeconds)),
          ' (restore ' + f.seconds(e.restoreSeconds) + ', replay ' + f.seconds(e.replaySeconds) + ')')),
      e.basis ? el('p', {class: 'small muted', 'data-testid': 'plan-basis'}, 'Estimate: ' + e.basis) : null,
      p.explain && p.explain.length ? el('ul', {class: 'explain', 'data-testid': 'plan-explain'}, p.explain.map(x => el('li', {}, x))) : null,
      el('p', {}, 'Run this where the new data directory should be; replace the --pgdata path'
        + (/--token-file /.test(p.command || '') ? ', and the --token-file path with a file (mode 0600, readable by PostgreSQL\'s user) holding a read token:' : ':')),
      el('pre', {class: 'command'}, code),
      copy));
    this.result.scrollIntoView({block: 'nearest'});
  }
}

function pair(k, ...v) {
  return el('div', {}, el('dt', {}, k), el('dd', {}, v));
}

/** A typed time as ISO-8601 for the API: a space becomes T, no offset means UTC; fractions kept as typed. */
export function isoTime(text) {
  let t = text.trim().replace(/^(\d{4}-\d{2}-\d{2})[ ]+/, '$1T').replace(/\s*UTC$/i, 'Z');
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(t)) {
    t += ':00';
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(t)) {
    t += 'Z';
  }
  return t.replace(/([+-]\d{2})$/, '$1:00');
}

async function copyText(code, button) {
  const text = code.textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
  } catch (e) {
    // No clipboard (plain http to another host): select it for Ctrl+C instead.
    const range = document.createRange();
    range.selectNodeContents(code);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    button.textContent = 'Selected: press Ctrl+C';
  }
  setTimeout(() => {
    button.textContent = 'Copy command';
  }, 3000);
}
