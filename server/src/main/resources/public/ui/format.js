// Figures as people read them. Every function takes null for "absent" and shows a dash.

const DASH = '—';

export function bytes(n) {
  if (n === null || n === undefined) {
    return DASH;
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = Number(n);
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return (i === 0 ? String(v) : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)) + ' ' + units[i];
}

export function seconds(s) {
  if (s === null || s === undefined) {
    return DASH;
  }
  const v = Number(s);
  if (v < 1) {
    return v.toFixed(2) + ' s';
  }
  if (v < 60) {
    return v.toFixed(v < 10 ? 1 : 0) + ' s';
  }
  if (v < 3600) {
    return Math.floor(v / 60) + ' min ' + Math.round(v % 60) + ' s';
  }
  if (v < 86400 * 2) {
    return Math.floor(v / 3600) + ' h ' + Math.round((v % 3600) / 60) + ' min';
  }
  return Math.floor(v / 86400) + ' d ' + Math.round((v % 86400) / 3600) + ' h';
}

/** "2026-12-04 18:00:05 UTC" */
export function time(iso) {
  if (!iso) {
    return DASH;
  }
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    return String(iso);
  }
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace('Z', ' UTC');
}

/** "3 min ago", against the server's clock (generatedAt) when given. */
export function age(iso, now) {
  if (!iso) {
    return DASH;
  }
  const then = new Date(iso).getTime();
  const ref = now ? new Date(now).getTime() : Date.now();
  const s = Math.max(0, (ref - then) / 1000);
  if (s < 60) {
    return Math.round(s) + ' s ago';
  }
  if (s < 3600) {
    return Math.round(s / 60) + ' min ago';
  }
  return seconds(s) + ' ago';
}

export function ratio(r) {
  return r === null || r === undefined ? DASH : Number(r).toFixed(1) + '×';
}

export function orDash(v) {
  return v === null || v === undefined || v === '' ? DASH : String(v);
}
