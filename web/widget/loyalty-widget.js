// <loyalty-widget>: the loyalty program on the shop's storefront.
//
// One ES module with no dependencies and no build step. The server splices
// every language catalogue into CATALOGUES when it serves this file, so the
// widget renders after a single JSON request (GET customer) and can switch
// language without another. Everything lives in an open shadow root, so a
// theme's CSS can neither break nor restyle it; only inherited font settings
// pass through, on purpose, so the widget reads in the theme's typeface.
//
// House rule: the server drops comment lines and indentation when it serves
// this file, so no template literal may hold a line starting with "//" or
// rely on leading spaces.

const CATALOGUES = /*__CATALOGUES__*/{};
const LANGS = ['en', 'pl', 'lv', 'ro', 'ru'];
const DEFAULT_COLOR = '#1f6feb';
const INK = '#1c1c1e';

// ---------------------------------------------------------------- markup

// Raw marks markup that html`` inserts as is; everything else is escaped,
// so shop names, reward names and codes can never inject markup.
class Raw {
  constructor(s) { this.s = s; }
  toString() { return this.s; }
}
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const show = (v) => (v instanceof Raw ? v.s : Array.isArray(v) ? v.map(show).join('')
  : v == null || v === false ? '' : esc(v));
const html = (strings, ...vals) => new Raw(strings.reduce((out, s, i) => out + s + (i < vals.length ? show(vals[i]) : ''), ''));

const svg = (d) => new Raw(`<svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${d}</svg>`);
const ICON = {
  gift: svg('<rect x="3" y="8" width="18" height="4" rx="1"/><path d="M12 8v13M19 12v7a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2v-7M7.5 8a2.5 2.5 0 0 1 0-5C11 3 12 8 12 8s1-5 4.5-5a2.5 2.5 0 0 1 0 5"/>'),
  close: svg('<path d="M18 6 6 18M6 6l12 12"/>'),
  bag: svg('<path d="M6 2 3 6v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2V6l-3-4zM3 6h18M16 10a4 4 0 0 1-8 0"/>'),
  user: svg('<path d="M16 21v-2a4 4 0 0 0-4-4H6a4 4 0 0 0-4 4v2"/><circle cx="9" cy="7" r="4"/><path d="M19 8v6M22 11h-6"/>'),
  cake: svg('<path d="M20 21v-8a2 2 0 0 0-2-2H6a2 2 0 0 0-2 2v8M4 16s.5-1 2-1 2.5 2 4 2 2.5-2 4-2 2.5 2 4 2 2-1 2-1M2 21h20M7 8v3M12 8v3M17 8v3M7 4h.01M12 4h.01M17 4h.01"/>'),
  check: svg('<path d="M20 6 9 17l-5-5"/>'),
};

const FOCUSABLE = 'a[href],button:not([disabled]),input:not([disabled]),select:not([disabled]),[tabindex]:not([tabindex="-1"])';
const focusables = (root) => [...root.querySelectorAll(FOCUSABLE)].filter((el) => el.getClientRects().length);
// keyOf names a control across re-renders, so focus survives them.
const keyOf = (el) => [el.dataset.action, el.dataset.id, el.dataset.test, el.id].join('|');

// ---------------------------------------------------------------- colour

function luminance(hex) {
  const n = parseInt(hex.slice(1), 16);
  const [r, g, b] = [n >> 16, (n >> 8) & 255, n & 255].map((v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
const contrast = (a, b) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
};
// The better of white and near-black always reaches AA (4.5:1) on any colour.
const readableOn = (bg) => (contrast(bg, '#ffffff') >= contrast(bg, INK) ? '#ffffff' : INK);
function hexColor(s) {
  const m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(s || '').trim());
  if (!m) return '';
  const h = m[1].length === 3 ? [...m[1]].map((c) => c + c).join('') : m[1];
  return '#' + h.toLowerCase();
}

// ---------------------------------------------------------------- language

const langOf = (tag) => {
  const l = String(tag || '').toLowerCase().split(/[-_]/)[0];
  return LANGS.includes(l) ? l : '';
};

// makeI18n binds a catalogue to Intl formatters for one language, regional
// tag (pl-PL formats like Poland) and currency.
function makeI18n(lang, tag, currency) {
  const cat = CATALOGUES[lang] || {};
  const safe = (make, fallback) => { try { return make(); } catch { return fallback(); } };
  const loc = safe(() => Intl.getCanonicalLocales(tag.replace(/_/g, '-'))[0], () => lang);
  const plural = new Intl.PluralRules(loc);
  const num = new Intl.NumberFormat(loc);
  const money = (v, whole) => safe(
    () => new Intl.NumberFormat(loc, { style: 'currency', currency, ...(whole ? { minimumFractionDigits: 0, maximumFractionDigits: 0 } : {}) }).format(v),
    () => `${num.format(v)} ${currency}`);
  const dates = {};
  const dateFmt = (opts) => (dates[JSON.stringify(opts)] ??= new Intl.DateTimeFormat(loc, opts));
  const fill = (s, vars) => s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? (typeof vars[k] === 'number' ? num.format(vars[k]) : vars[k]) : m));
  return {
    lang,
    // t looks a message up; a plural message is an object keyed by the
    // Intl.PluralRules category of vars.n.
    t(key, vars = {}) {
      let s = cat[key] ?? CATALOGUES.en?.[key] ?? key;
      if (typeof s === 'object') s = s[plural.select(vars.n ?? 0)] ?? s.other;
      return fill(s, vars);
    },
    n: (v) => num.format(v),
    signed: (v) => new Intl.NumberFormat(loc, { signDisplay: 'exceptZero' }).format(v),
    compact: (v) => (v < 10000 ? num.format(v) : new Intl.NumberFormat(loc, { notation: 'compact', maximumFractionDigits: 1 }).format(v)),
    money: (v) => money(Number(v), Number.isInteger(Number(v))),
    percent: (v) => new Intl.NumberFormat(loc, { style: 'percent', maximumFractionDigits: 2 }).format(v / 100),
    // A calendar date ("2027-01-31") is the same day everywhere: format it in UTC.
    day: (s) => dateFmt({ dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(s + 'T00:00:00Z')),
    date: (iso) => dateFmt({ dateStyle: 'medium' }).format(new Date(iso)),
    // 2000 is a leap year, so 02-29 is a valid birthday.
    birthday: (md) => dateFmt({ month: 'long', day: 'numeric', timeZone: 'UTC' }).format(Date.UTC(2000, +md.slice(0, 2) - 1, +md.slice(3, 5))),
    month: (m) => dateFmt({ month: 'long', timeZone: 'UTC' }).format(Date.UTC(2000, m - 1, 1)),
  };
}

// ---------------------------------------------------------------- data

function normalize(doc) {
  const d = { expiring: [], releasing: [], history: [], rewards: [], codes: [], balance: 0, pending: 0, ...doc };
  d.program = { earn_rate: '0', signup_bonus: 0, birthday_bonus: 0, expiry_days: 0, pending_days: 0, ...doc.program };
  d.appearance = { ...doc.appearance };
  return d;
}

// refreshAffordability recomputes what the balance buys after a redemption,
// so the widget needs no second request.
function refreshAffordability(d) {
  for (const r of d.rewards) {
    r.affordable = d.balance >= r.points;
    r.points_needed = Math.max(0, r.points - d.balance);
  }
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const pad = (n) => String(n).padStart(2, '0');
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

// failure turns an HTTP outcome into one of the few situations the shopper
// is told about.
function failure(status, code, path) {
  const kind = status === 401 ? 'session'
    : status === 429 ? 'rate'
      : status === 403 || (status === 404 && path === 'customer') ? 'unavailable'
        : code === 'insufficient_points' ? 'insufficient'
          : status === 409 ? 'conflict' : 'generic';
  return Object.assign(new Error(kind), { kind, status });
}

// ---------------------------------------------------------------- styles

const CSS = `
:host{all:initial;display:block;font-family:inherit;font-size:15px;line-height:1.45;color:${INK};-webkit-font-smoothing:antialiased}
*,*::before,*::after{box-sizing:border-box}
[hidden]{display:none!important}
button,input,select{font:inherit;color:inherit}
button,a{cursor:pointer}
:focus-visible{outline:3px solid var(--ring);outline-offset:2px}
.root{--muted:#5b5f67;--line:#e5e7eb;--soft:#f4f5f7;--good:#137333;--bad:#b3261e}
.launcher{position:fixed;bottom:20px;right:20px;z-index:2147483000;display:flex;align-items:center;gap:8px;height:56px;padding:0 22px 0 18px;border:0;border-radius:28px;background:var(--accent);color:var(--on-accent);font-weight:600;box-shadow:0 6px 24px rgba(0,0,0,.2),0 1px 3px rgba(0,0,0,.12);transition:transform .15s ease}
.launcher:hover{transform:translateY(-2px)}
.left .launcher{right:auto;left:20px}
.badge{position:absolute;top:-6px;right:-6px;min-width:26px;height:26px;padding:0 8px;border-radius:13px;background:${INK};color:#fff;border:2px solid #fff;font-size:12px;font-weight:700;line-height:22px;text-align:center}
.panel{position:fixed;bottom:90px;right:20px;z-index:2147483001;width:380px;max-height:min(660px,calc(100vh - 110px));overflow-y:auto;overscroll-behavior:contain;background:#fff;border-radius:18px;box-shadow:0 16px 48px rgba(0,0,0,.22),0 2px 8px rgba(0,0,0,.08);animation:lw-in .2s ease-out}
.left .panel{right:auto;left:20px}
.inline .panel{position:static;width:auto;max-height:none;overflow:visible;box-shadow:0 1px 3px rgba(0,0,0,.06);border:1px solid var(--line);animation:none}
@keyframes lw-in{from{opacity:0;transform:translateY(12px)}}
.bar,.head{background:var(--accent);color:var(--on-accent);--ring:var(--on-accent)}
.bar{position:sticky;top:0;z-index:1;display:flex;align-items:center;justify-content:space-between;gap:8px;padding:14px 18px 4px}
.inline .bar{position:static;border-radius:17px 17px 0 0}
h2{margin:0;font-size:15px;font-weight:600;outline:0}
.x{display:grid;place-items:center;width:36px;height:36px;margin:-6px -8px -6px 0;border:0;border-radius:50%;background:transparent}
.x:hover{background:rgba(128,128,128,.25)}
.head{padding:6px 18px 22px}
.hello{margin:8px 0 0;font-size:14px;opacity:.92;outline:0}
.big{margin:2px 0 0;font-size:42px;font-weight:700;line-height:1.1;letter-spacing:-.02em}
.big small{margin-left:6px;font-size:15px;font-weight:500;letter-spacing:0}
.sub{margin:4px 0 0;font-size:13px;opacity:.92}
.view-title{margin:8px 0 0;font-size:22px;font-weight:700;line-height:1.25;outline:0}
.body{display:grid;gap:22px;padding:18px 18px 22px}
h3{margin:0 0 10px;color:var(--muted);font-size:12px;font-weight:600;letter-spacing:.07em;text-transform:uppercase}
p{margin:0}
ul{display:grid;gap:10px;margin:0;padding:0;list-style:none}
.card{padding:14px;border:1px solid var(--line);border-radius:14px;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.reward{display:flex;align-items:center;gap:12px}
.grow{flex:1;min-width:0}
.name{font-weight:600}
.meta{color:var(--muted);font-size:13px}
.btn{display:inline-flex;align-items:center;justify-content:center;gap:6px;padding:9px 16px;border:0;border-radius:999px;background:var(--accent);color:var(--on-accent);font-weight:600;text-decoration:none;white-space:nowrap}
.btn:hover{filter:brightness(.94)}
.btn[aria-disabled=true]{opacity:.65;cursor:progress}
.ghost{background:var(--soft);color:${INK}}
.invert{background:var(--on-accent);color:var(--accent)}
.wide{width:100%;padding:12px 16px}
.link{color:inherit;font-size:14px;text-underline-offset:3px}
.actions{display:flex;gap:10px;margin-top:16px}
.actions .btn{flex:1;padding:12px}
.track{height:6px;margin-top:8px;overflow:hidden;border-radius:3px;background:rgba(128,128,128,.22)}
.track span{display:block;height:100%;border-radius:inherit;background:var(--accent)}
.head .track span{background:var(--on-accent)}
.rows li{display:flex;justify-content:space-between;align-items:center;gap:12px;padding:10px 0;border-bottom:1px solid var(--line)}
.rows li:last-child{border-bottom:0}
.pts{font-weight:600;font-variant-numeric:tabular-nums;white-space:nowrap}
.plus{color:var(--good)}.minus{color:var(--bad)}
.warn{border-color:#f3d38a;background:#fff8e6}
.earn li{display:flex;align-items:center;gap:12px}
.ico{display:grid;place-items:center;flex:none;width:36px;height:36px;border-radius:50%;background:var(--soft);color:${INK}}
.code{padding:14px;border:2px dashed #c9ccd2;border-radius:12px;background:var(--soft);font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:22px;font-weight:700;letter-spacing:.06em;text-align:center;word-break:break-all;user-select:all}
.coderow{display:flex;flex-wrap:wrap;align-items:center;gap:8px 10px;margin:8px 0 6px}
.small{flex:1 0 auto;padding:7px 12px;font-size:15px;letter-spacing:.04em;white-space:nowrap}
.center{display:grid;gap:12px;text-align:center}
.amount{display:block;margin:12px 0 4px;font-size:20px;font-weight:700}
.pick{display:flex;align-items:center;gap:12px;margin-top:8px}
input[type=range]{flex:1;accent-color:var(--accent)}
input[type=number]{width:96px}
input,select{padding:8px 10px;border:1px solid #b9bdc4;border-radius:10px;background:#fff}
fieldset{margin:0;padding:0;border:0}
legend{padding:0;font-weight:600}
.row{display:flex;gap:10px;margin-top:10px}
.row select{flex:1}
label{font-weight:600}
.error{display:grid;gap:10px;justify-items:start;padding:14px;border-radius:12px;background:#fdecea;color:#8c1d18}
.empty{padding:16px;border-radius:12px;background:var(--soft);color:var(--muted);font-size:14px;text-align:center}
.sk{height:14px;border-radius:7px;background:linear-gradient(90deg,#eceef1 25%,#f7f8fa 50%,#eceef1 75%);background-size:200% 100%;animation:lw-sh 1.2s linear infinite}
.head .sk{background:rgba(128,128,128,.3)}
.sk+.sk{margin-top:10px}
.sk.big{height:40px;width:45%}
@keyframes lw-sh{to{background-position:-200% 0}}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (max-width:480px){
.floating .panel{left:0;right:0;bottom:0;width:auto;max-height:88vh;max-height:88dvh;border-radius:18px 18px 0 0}
.launcher{width:56px;padding:0;justify-content:center}
.launcher .lbl{display:none}}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}}
`;

// ---------------------------------------------------------------- element

class LoyaltyWidget extends HTMLElement {
  static observedAttributes = ['data-locale', 'data-currency', 'data-color', 'data-position', 'data-layout'];

  constructor() {
    super();
    this.attachShadow({ mode: 'open' });
    this.doc = null; // the customer document, once loaded
    this.failed = null; // why loading failed
    this.view = { name: 'home' };
    this.isOpen = false;
    this.busy = false;
    this.flash = null; // an action's error: {where, err}
    this.attempt = null; // the last redeem confirmation, so a retry reuses its key
    this.bday = {};
    this.onOutside = (e) => { if (!e.composedPath().includes(this)) this.close(false); };
  }

  connectedCallback() {
    if (!this.rootEl) this.mount();
    // Fetch at once, not on first open: the launcher's badge shows the balance.
    if (!this.doc && !this.loading) this.load();
  }

  disconnectedCallback() {
    document.removeEventListener('pointerdown', this.onOutside);
  }

  attributeChangedCallback(name, old, val) {
    if (!this.rootEl || old === val) return;
    if (name === 'data-layout') this.mount();
    else this.render();
  }

  // ------------------------------------------------ settings

  get floating() { return this.dataset.layout !== 'inline'; }

  platform() { return this.dataset.platform || (this.dataset.store ? 'woocommerce' : 'shopify'); }

  i18n() {
    const page = document.documentElement.lang;
    const lang = langOf(this.dataset.locale) || langOf(this.doc?.locale) || langOf(page) || 'en';
    // Regional formatting (pl-PL, en-GB) when the tag names the chosen language.
    const tag = [this.dataset.locale, page].find((t) => langOf(t) === lang) || lang;
    const currency = (this.dataset.currency || this.doc?.currency || 'USD').toUpperCase();
    const key = `${lang}|${tag}|${currency}`;
    if (this.i18nKey !== key) [this.i18nKey, this.i18nCache] = [key, makeI18n(lang, tag, currency)];
    return this.i18nCache;
  }

  // ------------------------------------------------ network

  // request calls the app: same-origin through Shopify's app proxy, or
  // cross-origin to the app with WooCommerce's signed token.
  async request(path, body) {
    const api = (this.dataset.api ?? '/apps/loyalty').replace(/\/+$/, '');
    const woo = this.platform() === 'woocommerce';
    const q = new URLSearchParams();
    if (woo && this.dataset.token) q.set('token', this.dataset.token);
    const locale = this.dataset.locale || document.documentElement.lang;
    if (!body && locale) q.set('locale', locale);
    const url = `${api}${woo ? `/wc/${encodeURIComponent(this.dataset.store || '')}` : ''}/${path}${String(q) ? '?' + q : ''}`;
    let res;
    try {
      res = await fetch(url, {
        method: body ? 'POST' : 'GET',
        credentials: woo ? 'omit' : 'same-origin',
        headers: body ? { Accept: 'application/json', 'Content-Type': 'application/json' } : { Accept: 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
        // A request that hangs becomes a network error the shopper can retry
        // (a redeem retried keeps its key).
        signal: AbortSignal.timeout?.(20000),
      });
    } catch {
      throw Object.assign(new Error('network'), { kind: 'network' });
    }
    const data = await res.json().catch(() => null);
    if (res.ok && data) return data;
    throw failure(res.status, data?.error?.code, path);
  }

  async load() {
    this.loading = true;
    this.failed = null;
    this.render();
    try {
      this.doc = normalize(await this.request('customer'));
    } catch (err) {
      this.failed = err;
    }
    this.loading = false;
    this.render();
  }

  // ------------------------------------------------ structure

  mount() {
    const floating = this.floating;
    this.shadowRoot.innerHTML = String(html`<style>${new Raw(CSS)}</style>
<div class="root ${floating ? 'floating' : 'inline'}">
${floating ? html`<button class="launcher" type="button" data-action="toggle" data-test="launcher" aria-expanded="false" aria-controls="lw-panel">${ICON.gift}<span class="lbl"></span><span class="badge" hidden></span></button>` : ''}
<div class="panel" id="lw-panel" data-test="panel" aria-labelledby="lw-title" ${floating ? new Raw('role="dialog" aria-modal="true" hidden') : new Raw('role="region"')}></div>
<div class="sr" aria-live="polite"></div>
</div>`);
    const $ = (s) => this.shadowRoot.querySelector(s);
    [this.rootEl, this.launcher, this.panel, this.live] = [$('.root'), $('.launcher'), $('.panel'), $('[aria-live]')];
    this.isOpen = false;
    this.rootEl.addEventListener('click', (e) => this.onClick(e));
    this.rootEl.addEventListener('input', (e) => this.onInput(e));
    this.rootEl.addEventListener('change', (e) => this.onChange(e));
    this.panel.addEventListener('keydown', (e) => this.onKey(e));
    this.render();
  }

  render() {
    const i = this.i18n();
    this.applyAppearance();
    this.renderLauncher(i);
    this.renderPanel(i);
  }

  // applyAppearance sets the merchant's colour; data attributes win over the
  // document's appearance.
  applyAppearance() {
    const known = hexColor(this.dataset.color) || hexColor(this.doc?.appearance.color);
    const settled = this.doc || this.failed;
    // Until the shop's colour is known, the skeleton is neutral and the
    // launcher waits, rather than flash a colour that is not the shop's.
    const color = known || (settled ? DEFAULT_COLOR : '#eceef1');
    if (this.launcher) this.launcher.hidden = !known && !settled;
    const s = this.rootEl.style;
    s.setProperty('--accent', color);
    s.setProperty('--on-accent', readableOn(color));
    // A pale accent would make an invisible focus ring on white.
    s.setProperty('--ring', contrast(color, '#ffffff') >= 3 ? color : INK);
    const position = this.dataset.position || this.doc?.appearance.position || 'bottom-right';
    this.rootEl.classList.toggle('left', position === 'bottom-left');
  }

  renderLauncher(i) {
    if (!this.launcher) return;
    const d = this.doc;
    const signedIn = !!d?.customer;
    const badge = this.launcher.querySelector('.badge');
    badge.hidden = !signedIn;
    badge.textContent = signedIn ? i.compact(d.balance) : '';
    this.launcher.querySelector('.lbl').textContent = i.t('title');
    this.launcher.setAttribute('aria-label', signedIn ? `${i.t('title')}: ${i.t('points', { n: d.balance })}` : i.t('open'));
    this.launcher.setAttribute('aria-expanded', String(this.isOpen));
  }

  // renderPanel redraws the panel and puts focus back on the same control,
  // so re-rendering (a language switch, a finished request) never strands a
  // keyboard user.
  renderPanel(i) {
    const active = this.shadowRoot.activeElement;
    const key = active && this.panel.contains(active) ? keyOf(active) : null;
    this.panel.innerHTML = String(this.panelHTML(i));
    const target = this.focusNext ? this.panel.querySelector(this.focusNext)
      : key && focusables(this.panel).find((el) => keyOf(el) === key);
    this.focusNext = null;
    if (target) target.focus();
    else if (key) this.panel.querySelector('#lw-title').focus();
  }

  panelHTML(i) {
    const d = this.doc;
    const bar = html`<div class="bar"><h2 id="lw-title" tabindex="-1">${i.t('title')}</h2>${this.floating
      ? html`<button class="x" type="button" data-action="close" data-test="close" aria-label="${i.t('close')}">${ICON.close}</button>` : ''}</div>`;
    const frame = (head, body) => html`${bar}${head ? html`<div class="head">${head}</div>` : ''}<div class="body">${body}</div>`;
    if (this.failed) return frame('', this.errorBox(i, this.failed, 'load'));
    if (!d) return frame(this.skeletonHead(), this.skeletonBody(i));
    if (!d.customer) return frame(this.guestHead(i, d), this.guestBody(i, d));
    if (this.view.name === 'redeem') return frame(this.redeemHead(i), this.redeemBody(i, d));
    if (this.view.name === 'code') return frame(this.codeHead(i), this.codeBody(i));
    return frame(this.homeHead(i, d), this.homeBody(i, d));
  }

  // ------------------------------------------------ states

  skeletonHead() {
    return html`<div class="sk" style="width:40%;margin-top:10px"></div><div class="sk big"></div>`;
  }

  skeletonBody(i) {
    const card = html`<div class="card"><div class="sk" style="width:65%"></div><div class="sk" style="width:40%"></div></div>`;
    return html`<div aria-busy="true" style="display:grid;gap:12px"><p class="sr">${i.t('loading')}</p>${card}${card}${card}</div>`;
  }

  errorText(i, err, where) {
    if (err.kind === 'conflict' && where === 'birthday') return i.t('birthday_conflict');
    const keys = { session: 'error_session', rate: 'error_rate', network: 'error_network', unavailable: 'error_unavailable', insufficient: 'error_insufficient' };
    return i.t(keys[err.kind] || 'error_generic');
  }

  // errorBox explains a failure and offers the one thing that can help.
  errorBox(i, err, where) {
    const action = err.kind === 'session' ? ['reload', 'reload']
      : where === 'load' && err.kind !== 'unavailable' ? ['retry', 'retry'] : null;
    return html`<div class="error" role="alert" data-test="error"><p>${this.errorText(i, err, where)}</p>${action
      ? html`<button class="btn ghost" type="button" data-action="${action[0]}">${i.t(action[1])}</button>` : ''}</div>`;
  }

  // ------------------------------------------------ guest

  guestHead(i) {
    const { login, register } = this.accountUrls();
    return html`<p class="view-title">${i.t('guest_title')}</p><p class="sub">${i.t('guest_text')}</p>
<div class="actions" style="align-items:center"><a class="btn invert" data-test="join" href="${register}">${i.t('join')}</a>
<a class="link" href="${login}">${i.t('sign_in')}</a></div>`;
  }

  guestBody(i, d) {
    return html`${this.earnSection(i, d)}${this.rewardsSection(i, d)}`;
  }

  accountUrls() {
    const woo = this.platform() === 'woocommerce';
    return {
      login: this.dataset.loginUrl || (woo ? '/my-account/' : '/account/login'),
      register: this.dataset.registerUrl || (woo ? '/my-account/' : '/account/register'),
    };
  }

  // ------------------------------------------------ signed-in home

  homeHead(i, d) {
    const name = d.customer.first_name;
    const next = d.rewards.find((r) => !r.affordable);
    return html`<p class="hello">${name ? i.t('greeting', { name }) : i.t('greeting_anon')}</p>
<p class="big"><span data-test="balance">${i.n(d.balance)}</span><small>${i.t('points_word', { n: d.balance })}</small></p>
${d.pending > 0 ? html`<p class="sub" data-test="pending">${i.t('pending', { n: d.pending })}${this.releaseNote(i, d)}</p>` : ''}
${next ? html`<p class="sub" style="margin-top:14px">${i.t('next_reward', { name: next.name })} · ${i.t('needed', { n: next.points_needed })}</p>${this.track(d.balance, next.points, i.t('next_reward', { name: next.name }))}` : ''}`;
  }

  // When pending points become spendable: the first release day, as most
  // shoppers have one pending order at a time.
  releaseNote(i, d) {
    const first = d.releasing[0];
    if (!first) return '';
    return ' · ' + i.t(d.releasing.length > 1 ? 'first_spendable_from' : 'spendable_from', { date: i.day(first.date) });
  }

  homeBody(i, d) {
    return html`${this.flash?.where === 'home' ? this.errorBox(i, this.flash.err, 'home') : ''}
${this.expiringSection(i, d)}${this.codesSection(i, d)}${this.rewardsSection(i, d)}${this.earnSection(i, d)}${this.historySection(i, d)}`;
  }

  track(value, max, label) {
    const pct = Math.max(0, Math.min(100, Math.round((value / max) * 100)));
    return html`<div class="track" role="progressbar" aria-label="${label}" aria-valuemin="0" aria-valuemax="${max}" aria-valuenow="${Math.min(value, max)}"><span style="width:${pct}%"></span></div>`;
  }

  expiringSection(i, d) {
    if (!d.expiring.length) return '';
    return html`<section><h3>${i.t('expiring')}</h3><ul class="card warn rows">${d.expiring.slice(0, 3).map((e) => html`<li data-test="expiring">${i.t('expiring_row', { n: e.points, date: i.day(e.date) })}</li>`)}</ul></section>`;
  }

  codesSection(i, d) {
    if (!d.codes.length) return '';
    return html`<section><h3>${i.t('codes')}</h3><ul>${d.codes.map((c) => html`<li class="card" data-test="code-row">
<div class="name">${c.reward_name}</div><div class="coderow"><span class="code small">${c.code || '…'}</span>
${c.code ? html`<button class="btn ghost" type="button" data-action="copy" data-id="${c.id}" data-code="${c.code}">${i.t('copy')}</button>` : ''}</div>
<div class="meta">${this.codeStatus(i, c)}</div></li>`)}</ul></section>`;
  }

  codeStatus(i, c) {
    if (c.status === 'pending') return i.t('activating');
    return [c.expires_at ? i.t('valid_until', { date: i.date(c.expires_at) }) : '', c.min_subtotal ? i.t('reward_min', { amount: i.money(c.min_subtotal) }) : '']
      .filter(Boolean).join(' · ');
  }

  // describe says what a reward gives, in the shopper's language and currency.
  describe(i, r) {
    switch (r.kind) {
      case 'fixed_amount': return i.t('reward_fixed', { amount: i.money(r.amount) });
      case 'percentage': return i.t('reward_percentage', { percent: i.percent(r.percentage) });
      case 'free_shipping': return i.t('reward_free_shipping');
      case 'variable_amount': return i.t('reward_variable', { amount: i.money(1), n: r.points_per_unit });
      default: return '';
    }
  }

  rewardsSection(i, d) {
    const signedIn = !!d.customer;
    const cards = d.rewards.map((r) => {
      const cost = i.t(r.kind === 'variable_amount' ? 'from_points' : 'points', { n: r.points });
      const meta = [cost, r.kind === 'variable_amount' ? this.describe(i, r) : '', r.min_subtotal ? i.t('reward_min', { amount: i.money(r.min_subtotal) }) : '']
        .filter(Boolean).join(' · ');
      const locked = signedIn && !r.affordable;
      return html`<li class="card reward" data-test="reward" data-reward-id="${r.id}"><div class="grow">
<div class="name">${r.name}</div><div class="meta">${meta}</div>
${locked ? html`<div class="meta" style="margin-top:6px">${i.t('needed', { n: r.points_needed })}</div>${this.track(d.balance, r.points, r.name)}` : ''}</div>
${signedIn && r.affordable ? html`<button class="btn" type="button" data-action="redeem" data-id="${r.id}" data-test="redeem">${i.t('redeem')}</button>` : ''}</li>`;
    });
    return html`<section><h3>${i.t('rewards')}</h3>${cards.length ? html`<ul>${cards}</ul>` : html`<p class="empty">${i.t('rewards_empty')}</p>`}</section>`;
  }

  earnSection(i, d) {
    const p = d.program;
    const rate = parseFloat(p.earn_rate);
    const items = [];
    if (rate > 0) {
      // "1 point for every 10 zł" reads better than "0.1 points for every 1 zł".
      const text = rate >= 1 ? i.t('earn_rate', { n: rate, amount: i.money(1) })
        : i.t('earn_rate', { n: 1, amount: i.money(Math.round(100 / rate) / 100) });
      items.push([ICON.bag, text]);
    }
    if (p.signup_bonus > 0) items.push([ICON.user, i.t('earn_signup', { n: p.signup_bonus })]);
    if (p.birthday_bonus > 0) items.push([ICON.cake, i.t('earn_birthday', { n: p.birthday_bonus })]);
    return html`<section><h3>${i.t('earn')}</h3><ul class="earn">${items.map(([icon, text]) => html`<li><span class="ico">${icon}</span><span>${text}</span></li>`)}</ul>
${p.expiry_days > 0 ? html`<p class="meta" style="margin-top:10px">${i.t('expiry_note', { n: p.expiry_days })}</p>` : ''}
${p.pending_days > 0 ? html`<p class="meta" style="margin-top:4px">${i.t('pending_hint', { n: p.pending_days })}</p>` : ''}
${d.customer ? this.birthdayBlock(i, d) : ''}</section>`;
  }

  // birthdayBlock asks for month and day only (no year: we celebrate, not
  // verify age), once; afterwards it shows what was saved.
  birthdayBlock(i, d) {
    const saved = d.customer.birthday;
    if (saved) return html`<p class="card" style="margin-top:12px" data-test="birthday">${i.t('birthday')}: <strong>${i.birthday(saved)}</strong></p>`;
    if (!(d.program.birthday_bonus > 0)) return '';
    const { month = '', day = '' } = this.bday;
    const days = month ? DAYS_IN_MONTH[month - 1] : 31;
    const opt = (v, label, sel) => html`<option value="${v}" ${new Raw(String(v) === String(sel) ? 'selected' : '')}>${label}</option>`;
    const flash = this.flash?.where === 'birthday' ? this.errorBox(i, this.flash.err, 'birthday') : '';
    return html`<fieldset class="card" style="margin-top:12px" data-test="birthday-input"><legend class="sr">${i.t('birthday')}</legend>
<p class="name">${i.t('birthday')}</p><p class="meta">${i.t('birthday_prompt')}</p>
<div class="row"><select id="lw-month" aria-label="${i.t('month')}">${opt('', i.t('month'), month)}${Array.from({ length: 12 }, (_, k) => opt(k + 1, i.month(k + 1), month))}</select>
<select id="lw-day" aria-label="${i.t('day')}">${opt('', i.t('day'), day)}${Array.from({ length: days }, (_, k) => opt(k + 1, i.n(k + 1), day))}</select>
<button class="btn" type="button" data-action="birthday" data-test="birthday-save" aria-disabled="${this.busy}">${i.t(this.busy ? 'saving' : 'save')}</button></div>
${flash ? html`<div style="margin-top:10px">${flash}</div>` : ''}</fieldset>`;
  }

  historySection(i, d) {
    const rows = d.history.map((e) => html`<li data-test="history-row"><div><div>${i.t('kind_' + e.kind)}</div>
<div class="meta">${i.date(e.at)}${e.order ? ' · ' + i.t('order', { order: e.order }) : ''}</div></div>
<span class="pts ${e.points < 0 ? 'minus' : 'plus'}">${i.signed(e.points)}</span></li>`);
    return html`<section><h3>${i.t('history')}</h3>${rows.length ? html`<ul class="card rows" style="padding:4px 14px;gap:0">${rows}</ul>` : html`<p class="empty">${i.t('history_empty')}</p>`}</section>`;
  }

  // ------------------------------------------------ redeem

  // limits bounds a variable reward's points: at least its cost, at most the
  // balance (and the reward's cap), in whole units of currency when possible.
  limits(r) {
    const min = r.points;
    const max = Math.max(min, Math.min(r.max_points || this.doc.balance, this.doc.balance));
    const step = r.points_per_unit > 0 && max - min >= r.points_per_unit ? r.points_per_unit : 1;
    return { min, max: min + Math.floor((max - min) / step) * step, step };
  }

  snap(r, v) {
    const { min, max, step } = this.limits(r);
    if (!Number.isFinite(v)) return min;
    return Math.min(max, Math.max(min, min + Math.round((v - min) / step) * step));
  }

  amountOff(i, r, points) {
    return i.t('you_get', { amount: i.money(r.points_per_unit > 0 ? points / r.points_per_unit : 0) });
  }

  redeemHead(i) {
    const r = this.view.reward;
    return html`<p class="view-title" id="lw-view" tabindex="-1">${i.t('redeem_title', { name: r.name })}</p><p class="sub">${this.describe(i, r)}</p>`;
  }

  redeemBody(i) {
    const r = this.view.reward;
    const pts = this.view.points;
    const variable = r.kind === 'variable_amount';
    let chooser = '';
    if (variable) {
      const { min, max, step } = this.limits(r);
      const range = html`min="${min}" max="${max}" step="${step}" value="${pts}"`;
      chooser = html`<label for="lw-points">${i.t('choose_points')}</label>
<div class="pick"><input type="range" id="lw-range" data-test="points-slider" ${range} aria-label="${i.t('choose_points')}" aria-describedby="lw-amount">
<input type="number" id="lw-points" data-test="points-input" inputmode="numeric" ${range}></div>
<output id="lw-amount" class="amount" for="lw-points">${this.amountOff(i, r, pts)}</output>`;
    }
    const flash = this.flash?.where === 'redeem' ? this.errorBox(i, this.flash.err, 'redeem') : '';
    return html`<div class="card">${chooser}
<p id="lw-confirm-text" class="${variable ? 'meta' : ''}">${i.t('confirm_text', { n: pts })}</p>
${r.min_subtotal ? html`<p class="meta" style="margin-top:4px">${i.t('reward_min', { amount: i.money(r.min_subtotal) })}</p>` : ''}
${flash ? html`<div style="margin-top:12px">${flash}</div>` : ''}
<div class="actions"><button class="btn ghost" type="button" data-action="back">${i.t('cancel')}</button>
<button class="btn" type="button" data-action="confirm" data-test="confirm-redeem" aria-disabled="${this.busy}">${i.t(this.busy ? 'redeeming' : 'confirm')}</button></div></div>`;
  }

  codeHead(i) {
    const c = this.view.code;
    // A variable reward's code is worth a fixed amount once redeemed.
    const gives = this.describe(i, c.kind === 'variable_amount' ? { ...c, kind: 'fixed_amount' } : c);
    return html`<p class="view-title" id="lw-view" tabindex="-1">${i.t('redeemed')}</p><p class="sub">${[c.reward_name, gives].filter(Boolean).join(' · ')}</p>`;
  }

  codeBody(i) {
    const c = this.view.code;
    const note = c.status === 'pending' ? i.t('code_activating') : i.t('code_ready');
    const status = c.status === 'pending' ? '' : this.codeStatus(i, c);
    return html`<div class="card center"><p class="meta">${i.t('code_title')}</p>
<div class="code" data-test="code">${c.code || '…'}</div>
${c.code ? html`<button class="btn wide" type="button" data-action="copy" data-test="copy" data-id="${c.id}" data-code="${c.code}">${i.t('copy')}</button>` : ''}
<p>${note}</p>${status ? html`<p class="meta">${status}</p>` : ''}</div>
<button class="btn ghost wide" type="button" data-action="back">${i.t('back')}</button>`;
  }

  startRedeem(id) {
    const r = this.doc.rewards.find((x) => String(x.id) === String(id));
    if (!r || !r.affordable) return;
    this.flash = null;
    this.view = { name: 'redeem', reward: r, points: r.points };
    this.focusNext = '#lw-view';
    this.render();
  }

  async confirmRedeem() {
    if (this.busy) return;
    const r = this.view.reward;
    const points = r.kind === 'variable_amount' ? this.snap(r, this.view.points) : r.points;
    // The same confirmation retried (after a timeout, a double click) keeps
    // its key, so the server spends the points once.
    if (!this.attempt || this.attempt.rewardId !== r.id || this.attempt.points !== points) {
      this.attempt = { rewardId: r.id, points, key: newKey() };
    }
    const body = { reward_id: r.id, key: this.attempt.key };
    if (r.kind === 'variable_amount') body.points = points;
    this.busy = true;
    this.flash = null;
    this.render();
    const i = this.i18n();
    try {
      const res = await this.request('redeem', body);
      this.attempt = null;
      this.applyRedemption(res, points);
      this.view = { name: 'code', code: res.redemption || {} };
      this.focusNext = '#lw-view';
      this.announce(i.t('redeemed'));
    } catch (err) {
      this.flash = { where: 'redeem', err };
      this.announce(this.errorText(i, err, 'redeem'));
    }
    this.busy = false;
    this.render();
  }

  // applyRedemption updates the document from the redeem answer, so the
  // balance, history and rewards are right without a second request.
  applyRedemption(res, points) {
    const d = this.doc;
    const code = res.redemption || {};
    const spent = code.points || points;
    d.balance = typeof res.balance === 'number' ? res.balance : d.balance - spent;
    d.codes = [code, ...d.codes.filter((c) => c.id !== code.id)];
    d.history = [{ at: code.created_at || new Date().toISOString(), kind: 'redeem', points: -spent }, ...d.history].slice(0, 20);
    refreshAffordability(d);
  }

  // ------------------------------------------------ birthday

  async saveBirthday() {
    if (this.busy) return;
    const { month, day } = this.bday;
    if (!month || !day) {
      this.shadowRoot.querySelector(month ? '#lw-day' : '#lw-month')?.focus();
      return;
    }
    this.busy = true;
    this.flash = null;
    this.render();
    const i = this.i18n();
    const birthday = `${pad(month)}-${pad(day)}`;
    try {
      const res = await this.request('birthday', { birthday });
      this.doc.customer.birthday = res.birthday || birthday;
      this.focusNext = '[data-test=birthday]';
      this.announce(i.t('birthday_saved'));
    } catch (err) {
      this.flash = { where: 'birthday', err };
      this.announce(this.errorText(i, err, 'birthday'));
    }
    this.busy = false;
    this.render();
  }

  // ------------------------------------------------ copy

  async copy(text, button) {
    const i = this.i18n();
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch {
      ok = this.copyFallback(text);
      button.focus();
    }
    this.announce(i.t(ok ? 'copied' : 'copy_failed'));
    if (!ok) return;
    button.textContent = i.t('copied');
    clearTimeout(button.timer);
    button.timer = setTimeout(() => { button.textContent = this.i18n().t('copy'); }, 2000);
  }

  // copyFallback serves browsers without the async clipboard (or without
  // permission): select a hidden textarea and ask for the copy command.
  copyFallback(text) {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.cssText = 'position:fixed;top:0;left:0;opacity:0';
    this.shadowRoot.appendChild(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    ta.remove();
    return ok;
  }

  announce(msg) {
    // Clearing first makes a screen reader repeat an identical message.
    this.live.textContent = '';
    setTimeout(() => { this.live.textContent = msg; }, 50);
  }

  // ------------------------------------------------ events

  onClick(e) {
    const el = e.target.closest('[data-action]');
    if (!el) return;
    switch (el.dataset.action) {
      case 'toggle': return this.isOpen ? this.close(true) : this.open();
      case 'close': return this.close(true);
      case 'retry': return this.load();
      case 'reload': return location.reload();
      case 'redeem': return this.startRedeem(el.dataset.id);
      case 'confirm': return this.confirmRedeem();
      case 'copy': return this.copy(el.dataset.code, el);
      case 'birthday': return this.saveBirthday();
      case 'back': {
        const id = this.view.reward?.id;
        this.view = { name: 'home' };
        this.flash = null;
        this.focusNext = id ? `[data-action=redeem][data-id="${id}"]` : '#lw-title';
        return this.render();
      }
    }
  }

  // onInput keeps the slider, the number field and the amount off in step
  // without re-rendering, so dragging the slider is never interrupted.
  onInput(e) {
    const t = e.target;
    if (t.id === 'lw-range' || t.id === 'lw-points') {
      const r = this.view.reward;
      const v = this.snap(r, Number(t.value));
      this.view.points = v;
      const other = this.shadowRoot.querySelector(t.id === 'lw-range' ? '#lw-points' : '#lw-range');
      other.value = v;
      const i = this.i18n();
      this.shadowRoot.querySelector('#lw-amount').textContent = this.amountOff(i, r, v);
      this.shadowRoot.querySelector('#lw-confirm-text').textContent = i.t('confirm_text', { n: v });
    }
  }

  onChange(e) {
    const t = e.target;
    if (t.id === 'lw-points') t.value = this.view.points;
    if (t.id === 'lw-month' || t.id === 'lw-day') {
      this.bday[t.id === 'lw-month' ? 'month' : 'day'] = Number(t.value) || '';
      // A shorter month may drop the chosen day (31 April).
      if (this.bday.month && this.bday.day > DAYS_IN_MONTH[this.bday.month - 1]) this.bday.day = '';
      if (t.id === 'lw-month') this.render();
    }
  }

  onKey(e) {
    if (!this.floating) return;
    if (e.key === 'Escape') {
      e.preventDefault();
      this.close(true);
    } else if (e.key === 'Tab') {
      this.trapTab(e);
    }
  }

  // trapTab keeps Tab and Shift-Tab inside the open dialog.
  trapTab(e) {
    const items = focusables(this.panel);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    const active = this.shadowRoot.activeElement;
    if (e.shiftKey && (active === first || !items.includes(active))) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && active === last) {
      e.preventDefault();
      first.focus();
    }
  }

  open() {
    this.isOpen = true;
    this.panel.hidden = false;
    this.renderLauncher(this.i18n());
    document.addEventListener('pointerdown', this.onOutside);
    (this.panel.querySelector('[data-action=close]') || this.panel.querySelector('#lw-title')).focus();
  }

  // close hides the dialog; focus returns to the launcher unless the shopper
  // clicked elsewhere on the page, where their focus already went.
  close(restoreFocus) {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.panel.hidden = true;
    this.renderLauncher(this.i18n());
    document.removeEventListener('pointerdown', this.onOutside);
    if (restoreFocus) this.launcher.focus();
  }
}

if (!customElements.get('loyalty-widget')) customElements.define('loyalty-widget', LoyaltyWidget);

export { LoyaltyWidget };
