// patlink review page: pick a product, review the patents ranked for it, record accept / reject / unsure.
//
// Plain ES2020, no framework, no build step, served under a strict Content-Security-Policy (no inline script or
// style). Every piece of data reaches the page through textContent / text nodes: no markup from the API is ever
// parsed (no innerHTML, insertAdjacentHTML or document.write anywhere in this file).
'use strict';

(() => {
  const REVIEWER_KEY = 'patlink.reviewer';
  const TOKEN_KEY = 'patlink.token';
  const PATENT_URL = 'https://patents.google.com/patent/';
  const VERB = { accept: 'accepted', reject: 'rejected', unsure: 'unsure' };
  const KEY_DECISION = { a: 'accept', r: 'reject', u: 'unsure' };

  const S = {
    item: null,          // {id, name, text, isNew, knownPatents}
    candidates: [],      // as /api/candidates returns them
    focusTerms: [],      // matched terms of the focused candidate (marked in the item's description)
    patentId: null,      // patent shown in the side panel
    patentTerms: [],
    seq: { items: 0, cands: 0, patent: 0 },   // answers to superseded requests are dropped
  };

  // ------------------------------------------------------------------ small helpers
  const $ = (id) => document.getElementById(id);
  const fmtInt = (n) => Number(n || 0).toLocaleString('en-US');
  const fmtScore = (s) => (s === null || s === undefined || !Number.isFinite(Number(s)) ? ''
    : Number(s).toFixed(Math.abs(Number(s)) >= 10 ? 2 : 3));
  const enc = encodeURIComponent;

  // el('span', {class: 'x', text: 'y', data: {patentId: 'US1'}, attrs: {title: 't'}}, child, ...)
  function el(tag, opts = {}, ...children) {
    const node = document.createElement(tag);
    if (opts.class) node.className = opts.class;
    if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
    for (const [k, v] of Object.entries(opts.data || {})) node.dataset[k] = String(v);
    for (const [k, v] of Object.entries(opts.attrs || {})) node.setAttribute(k, String(v));
    for (const c of children) {
      if (c !== null && c !== undefined && c !== false) node.append(c);   // strings become text nodes
    }
    return node;
  }

  function storageGet(store, key) {
    try { return store.getItem(key) || ''; } catch (e) { return ''; }
  }
  function storageSet(store, key, value) {
    try { if (value) store.setItem(key, value); else store.removeItem(key); } catch (e) { /* storage disabled */ }
  }

  // Words as BM25 splits them (\b\w\w+\b); marked when they equal a matched term up to a plural / -ing / -ed
  // ending. Exact on the item's own text (the terms are its words), approximate on a patent's title and text.
  const WORD = /[\p{L}\p{N}_]{2,}/gu;
  function stem(w) {
    w = w.toLowerCase();
    for (const suf of ['ations', 'ation', 'ings', 'ing', 'ies', 'es', 'ed', 's']) {
      if (w.length - suf.length >= 3 && w.endsWith(suf)) return w.slice(0, -suf.length);
    }
    return w;
  }
  function highlighted(text, terms) {
    const frag = document.createDocumentFragment();
    text = String(text || '');
    const wanted = new Set((terms || []).map((t) => stem(String(t))));
    if (!wanted.size) { frag.append(text); return frag; }
    let last = 0;
    for (const m of text.matchAll(WORD)) {
      if (!wanted.has(stem(m[0]))) continue;
      if (m.index > last) frag.append(text.slice(last, m.index));
      frag.append(el('mark', { text: m[0] }));
      last = m.index + m[0].length;
    }
    if (last < text.length) frag.append(text.slice(last));
    return frag;
  }

  // ------------------------------------------------------------------ status area
  function status(message, kind = 'info') {
    const box = $('status');
    box.textContent = message;
    box.className = `status status-${kind}`;
    box.dataset.kind = kind;
  }
  function fail(err) {
    status(err instanceof ApiError ? err.message : `Error: ${err && err.message ? err.message : err}`, 'error');
  }

  // ------------------------------------------------------------------ the API
  class ApiError extends Error {
    constructor(code, detail) {
      super(code ? `Error ${code}: ${detail}` : detail);
      this.code = code;
      this.detail = detail;
    }
  }

  let tokenWaiter = null;     // one prompt for every call that got 401 meanwhile
  let tokenResolve = null;
  function askToken(detail) {
    if (!tokenWaiter) {
      tokenWaiter = new Promise((resolve) => { tokenResolve = resolve; });
      $('token-form').hidden = false;
      status(detail, 'error');
      $('token-input').focus();
    }
    return tokenWaiter;
  }
  function tokenSubmitted(ev) {
    ev.preventDefault();
    const t = $('token-input').value.trim();
    if (!t) return;
    storageSet(sessionStorage, TOKEN_KEY, t);
    $('token-input').value = '';
    $('token-form').hidden = true;
    status('Token set for this browser tab.');
    const resolve = tokenResolve;
    tokenWaiter = null;
    tokenResolve = null;
    if (resolve) resolve();
  }

  async function errorDetail(res) {
    try {
      const body = await res.json();
      if (body && typeof body.detail === 'string') return body.detail;
      if (body && body.detail !== undefined) return JSON.stringify(body.detail);
    } catch (e) { /* not JSON */ }
    return res.statusText || 'request failed';
  }

  // fetch an /api path with the token; JSON in and out (raw: the Response). Throws ApiError.
  async function api(path, { method = 'GET', body, raw = false } = {}) {
    for (;;) {
      const headers = { Accept: raw ? '*/*' : 'application/json' };
      const token = storageGet(sessionStorage, TOKEN_KEY);
      if (token) headers.Authorization = `Bearer ${token}`;
      const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
      if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
      }
      let res;
      try {
        res = await fetch(path, init);
      } catch (e) {
        throw new ApiError(0, `cannot reach the server (${e.message})`);
      }
      if (res.status === 401) {
        const detail = await errorDetail(res);
        storageSet(sessionStorage, TOKEN_KEY, '');
        await askToken(token ? `Wrong token (${detail})` : detail);
        continue;
      }
      if (!res.ok) throw new ApiError(res.status, await errorDetail(res));
      return raw ? res : res.json();
    }
  }

  // ------------------------------------------------------------------ header
  async function loadInfo() {
    const info = await api('/api/info');
    const d = info.decisions || {};
    const box = $('info');
    box.replaceChildren(
      el('strong', { text: info.method || 'no method', attrs: { id: 'info-method' } }), ' · ',
      el('span', { text: `${fmtInt(info.documents)} patents`, attrs: { id: 'info-documents' } }), ' · ',
      el('span', { text: `${fmtInt(info.known_items)} known products`, attrs: { id: 'info-items' } }), ' · ',
      el('span', { text: `${fmtInt(info.known_links)} known links`, attrs: { id: 'info-links' } }), ' · ',
      el('span', {
        text: `decisions: ${fmtInt(d.accept)} accepted, ${fmtInt(d.reject)} rejected, ${fmtInt(d.unsure)} unsure`,
        attrs: { id: 'info-decisions' },
      }));
    const maxK = info.limits && info.limits.max_top_k;
    if (maxK) $('top-k').max = String(maxK);
    return info;
  }
  const refreshInfo = () => loadInfo().catch(fail);

  function reviewer() {
    return $('reviewer').value.trim();
  }

  async function exportDecisions(fmt) {
    try {
      const res = await api(`/api/decisions/export?format=${enc(fmt)}`, { raw: true });
      const url = URL.createObjectURL(await res.blob());
      const a = el('a', { attrs: { href: url, download: `decisions.${fmt}` }, class: 'hidden' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 30000);
      status(`Decisions exported as ${fmt.toUpperCase()}.`);
    } catch (e) {
      fail(e);
    }
  }

  // ------------------------------------------------------------------ picking a product
  function selectTab(which) {
    const known = which === 'known';
    for (const [tab, panel, on] of [['tab-known', 'panel-known', known], ['tab-new', 'panel-new', !known]]) {
      $(tab).setAttribute('aria-selected', String(on));
      $(tab).tabIndex = on ? 0 : -1;
      $(panel).hidden = !on;
    }
  }

  async function searchItems() {
    const seq = ++S.seq.items;
    const q = $('item-search').value.trim();
    try {
      const res = await api(`/api/items?q=${enc(q)}&limit=50`);
      if (seq !== S.seq.items) return;
      renderItems(res, q);
    } catch (e) {
      if (seq === S.seq.items) fail(e);
    }
  }

  function renderItems(res, q) {
    const list = $('item-list');
    const rows = res.items.map((it) => {
      const meta = [];
      if (it.id !== it.name) meta.push(it.id);
      meta.push(`${fmtInt(it.known_links)} known link${it.known_links === 1 ? '' : 's'}`);
      if (it.decided) meta.push(`${fmtInt(it.decided)} decided`);
      const current = S.item && !S.item.isNew && S.item.id === it.id;
      return el('li', {},
        el('button', {
          class: 'item', data: { itemId: it.id }, attrs: { type: 'button', 'aria-pressed': String(current) },
        }, el('span', { class: 'item-name', text: it.name }), el('span', { class: 'item-meta', text: meta.join(' · ') })));
    });
    list.replaceChildren(...rows);
    const shown = res.items.length;
    $('item-count').textContent = res.total === 0 ? (q ? `No product matches “${q}”.` : 'No known products.')
      : `${fmtInt(res.total)} product${res.total === 1 ? '' : 's'}${shown < res.total ? `, first ${fmtInt(shown)} shown` : ''}`;
  }

  async function openItem(id) {
    selectTab('known');
    const seq = ++S.seq.cands;
    for (const b of document.querySelectorAll('#item-list .item')) {
      b.setAttribute('aria-pressed', String(b.dataset.itemId === id));
    }
    setCandState('loading');
    status('Loading the product…');
    try {
      const item = await api(`/api/item?id=${enc(id)}`);
      if (seq !== S.seq.cands) return;
      S.item = { id: item.id, name: item.name, text: item.text || '', isNew: false,
                 knownPatents: item.known_patents || [] };
      S.focusTerms = [];
      S.candidates = [];
      renderItemHead();
      $('candidates').replaceChildren();
      await loadCandidates(seq);
    } catch (e) {
      if (seq === S.seq.cands) { setCandState('error'); fail(e); }
    }
  }

  async function openNewDescription(ev) {
    ev.preventDefault();
    const id = $('new-id').value.trim();
    const text = $('new-text').value;
    if (!id) { status('Give the new product an id or name (decisions are recorded under it).', 'error'); return; }
    if (!text.trim()) { status('Paste a description to rank patents for.', 'error'); return; }
    for (const b of document.querySelectorAll('#item-list .item')) b.setAttribute('aria-pressed', 'false');
    S.item = { id, name: id, text, isNew: true, knownPatents: [] };
    S.focusTerms = [];
    S.candidates = [];
    renderItemHead();
    $('candidates').replaceChildren();
    await loadCandidates();
  }

  function renderItemHead() {
    const it = S.item;
    $('item-title').textContent = it.isNew ? `New: ${it.name}` : it.name;
    const known = $('item-known');
    known.replaceChildren();
    if (it.isNew) {
      known.textContent = 'A new description: decisions record its text.';
    } else {
      const parts = [it.id !== it.name ? `${it.id} · ` : '',
                     `${fmtInt(it.knownPatents.length)} known link${it.knownPatents.length === 1 ? '' : 's'}`];
      known.append(parts.join(''));
      const shown = it.knownPatents.slice(0, 8);
      if (shown.length) known.append(': ');
      shown.forEach((p, i) => {
        if (i) known.append(', ');
        known.append(el('button', { class: 'linkish patent-open mono', text: p.id, data: { patentId: p.id },
                                    attrs: { type: 'button', title: p.title || p.id } }));
      });
      if (it.knownPatents.length > shown.length) known.append(` … and ${it.knownPatents.length - shown.length} more`);
    }
    $('item-details').hidden = !it.text;
    renderItemText();
  }

  function renderItemText() {
    $('item-text').replaceChildren(highlighted(S.item ? S.item.text : '', S.focusTerms));
  }

  // ------------------------------------------------------------------ candidates
  function setCandState(state) {
    const list = $('candidates');
    list.dataset.state = state;
    list.setAttribute('aria-busy', String(state === 'loading'));
  }

  function topK() {
    const v = $('top-k').value.trim();
    return v === '' ? 10 : Number(v);
  }

  async function loadCandidates(seq = ++S.seq.cands) {
    if (!S.item) { status('Pick a product first.', 'error'); return; }
    const body = { top_k: topK() };
    if (S.item.isNew) { body.text = S.item.text; body.item_id = S.item.id; } else { body.item_id = S.item.id; }
    const minScore = $('min-score').value.trim();
    if (minScore !== '') body.min_score = Number(minScore);
    const assignee = $('assignee').value.trim();
    if (assignee) body.assignee = assignee;
    setCandState('loading');
    status('Ranking patents…');
    const t0 = performance.now();
    try {
      const res = await api('/api/candidates', { method: 'POST', body });
      if (seq !== S.seq.cands) return;
      S.candidates = res.candidates || [];
      renderCandidates();
      setCandState('ready');
      const secs = ((performance.now() - t0) / 1000).toFixed(2);
      const known = S.candidates.filter((c) => c.known).length;
      $('cand-summary').textContent = `${S.candidates.length} candidate${S.candidates.length === 1 ? '' : 's'} `
        + `ranked by ${res.method}${known ? `, ${known} already known` : ''}`
        + `${body.min_score !== undefined ? `, score ≥ ${body.min_score}` : ''}`
        + `${assignee ? `, assignee contains “${assignee}”` : ''}.`;
      status(`${S.candidates.length} candidates for ${S.item.name} in ${secs} s.`);
    } catch (e) {
      if (seq === S.seq.cands) { setCandState('error'); fail(e); }
    }
  }

  function decisionBadge(d) {
    if (!d) return null;
    const who = d.reviewer ? ` by ${d.reviewer}` : '';
    const title = [`${d.decision}${who}`, d.decided_at, d.note ? `note: ${d.note}` : ''].filter(Boolean).join(' · ');
    return el('span', { class: `badge decision decision-${d.decision}`, text: `${VERB[d.decision] || d.decision}${who}`,
                        attrs: { title } });
  }

  function decisionButtons(current, label) {
    const group = el('span', { class: 'decide', attrs: { role: 'group', 'aria-label': label } });
    for (const [decision, text] of [['accept', 'Accept'], ['reject', 'Reject'], ['unsure', 'Unsure']]) {
      group.append(el('button', {
        class: `btn-${decision}`, text, data: { decision },
        attrs: { type: 'button', 'aria-pressed': String(current === decision) },
      }));
    }
    return group;
  }

  function candidateRow(c) {
    const current = c.decision ? c.decision.decision : '';
    const li = el('li', { class: 'candidate', data: { patentId: c.id, rank: c.rank, current },
                          attrs: { tabindex: '0', 'aria-label': `Rank ${c.rank}: ${c.id} ${c.title || ''}` } });
    const badges = el('span', { class: 'badges' },
      c.known ? el('span', { class: 'badge known', text: 'known link' }) : null,
      el('span', { class: 'decision-slot' }, decisionBadge(c.decision)));
    li.append(el('div', { class: 'cand-head' },
      el('span', { class: 'rank', text: `#${c.rank}` }),
      el('button', { class: 'linkish patent-open mono patent-id', text: c.id, data: { patentId: c.id },
                     attrs: { type: 'button', title: 'Show the patent and the products ranked for it' } }),
      el('a', { class: 'external', text: 'Google Patents ↗',
                attrs: { href: PATENT_URL + enc(c.id), target: '_blank', rel: 'noopener noreferrer',
                         'aria-label': `${c.id} on Google Patents (new tab)` } }),
      el('span', { class: 'score', text: `score ${fmtScore(c.score)}` }),
      badges));

    if (c.title) {          // an index without patent text (products as profiles) has no titles either
      li.append(el('button', { class: 'linkish patent-open cand-title', data: { patentId: c.id },
                               attrs: { type: 'button' } }, highlighted(c.title, c.matched_terms)));
    }

    if (c.snippet) li.append(el('div', { class: 'snippet small' }, highlighted(c.snippet, c.matched_terms)));

    const meta = [c.assignee, c.date].filter(Boolean);
    if (meta.length) li.append(el('div', { class: 'meta muted small', text: meta.join(' · ') }));

    const ev = el('div', { class: 'evidence small' });
    const terms = c.matched_terms || [];
    if (terms.length) {
      const chips = el('span', { class: 'terms' });
      for (const t of terms.slice(0, 14)) chips.append(el('span', { class: 'term', text: t }));
      if (terms.length > 14) chips.append(el('span', { class: 'muted', text: `+${terms.length - 14}` }));
      ev.append(el('div', { class: 'ev-row' }, el('span', { class: 'label', text: 'Matched terms' }), chips));
    }
    const supporting = c.supporting_items || [];
    const shownSupport = new Set(supporting);
    const evidence = (c.evidence || []).filter((e) => !shownSupport.has(e));
    if (evidence.length) {
      ev.append(el('div', { class: 'ev-row' }, el('span', { class: 'label', text: 'Evidence' }),
                   el('ul', { class: 'ev-list' }, ...evidence.slice(0, 5).map((e) => el('li', { text: e })))));
    }
    if (c.n_supporting) {
      const more = c.n_supporting - supporting.length;
      ev.append(el('div', { class: 'ev-row supporting' },
        el('span', { class: 'label', text: `Linked products (${fmtInt(c.n_supporting)})`,
                     attrs: { title: 'Known products already linked to this patent' } }),
        el('ul', { class: 'support-list' }, ...supporting.map((s) => el('li', { class: 'support', text: s })),
           more > 0 ? el('li', { class: 'muted', text: `… and ${fmtInt(more)} more` }) : null)));
    }
    if (ev.childNodes.length) li.append(ev);

    li.append(el('div', { class: 'actions' },
      decisionButtons(current, `Decision on ${c.id}`),
      el('input', { class: 'note', attrs: { type: 'text', maxlength: '4000', placeholder: 'note (optional)',
                                             'aria-label': `Note on ${c.id}` } })));
    return li;
  }

  function renderCandidates() {
    const list = $('candidates');
    if (!S.candidates.length) {
      list.replaceChildren(el('li', { class: 'empty muted', text: 'No candidate passes the filters.' }));
      return;
    }
    list.replaceChildren(...S.candidates.map(candidateRow));
  }

  function showDecision(row, d) {
    row.dataset.current = d.decision;
    const slot = row.querySelector('.decision-slot');
    slot.replaceChildren(decisionBadge(d));
    for (const b of row.querySelectorAll('[data-decision]')) {
      b.setAttribute('aria-pressed', String(b.dataset.decision === d.decision));
    }
  }

  function rowOf(container, attr, id) {
    for (const row of container.children) if (row.dataset[attr] === id) return row;
    return null;
  }

  async function decideCandidate(row, decision) {
    const c = S.candidates.find((x) => x.id === row.dataset.patentId);
    if (!c || !S.item) return;
    const body = { item_id: S.item.id, patent_id: c.id, decision, note: row.querySelector('.note').value.trim(),
                   reviewer: reviewer(), score: c.score, rank: c.rank };
    if (S.item.isNew) body.item_text = S.item.text;
    const buttons = row.querySelectorAll('[data-decision]');
    buttons.forEach((b) => { b.disabled = true; });
    row.classList.add('saving');
    try {
      const d = await api('/api/decisions', { method: 'POST', body });
      c.decision = d;
      showDecision(row, d);
      status(`${c.id} ${VERB[decision]} for ${S.item.name}.`);
      refreshInfo();
      if (!S.item.isNew) searchItems();
      if (S.patentId === c.id) refreshPatentDecisions(c.id);
    } catch (e) {
      fail(e);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
      row.classList.remove('saving');
    }
  }

  function onCandidatesClick(ev) {
    const btn = ev.target.closest('button');
    if (!btn) return;
    const row = btn.closest('.candidate');
    if (btn.dataset.decision && row) decideCandidate(row, btn.dataset.decision);
    else if (btn.classList.contains('patent-open')) openPatent(btn.dataset.patentId);
  }

  function onCandidatesKey(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = ev.target.tagName;
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT') return;
    const row = ev.target.closest('.candidate');
    if (!row) return;
    const key = ev.key.toLowerCase();
    if (KEY_DECISION[key]) {
      ev.preventDefault();
      decideCandidate(row, KEY_DECISION[key]);
    } else if (key === 'j' || key === 'arrowdown' || key === 'k' || key === 'arrowup') {
      ev.preventDefault();
      const next = key === 'j' || key === 'arrowdown' ? row.nextElementSibling : row.previousElementSibling;
      if (next && next.classList.contains('candidate')) next.focus();
    } else if (key === 'enter' && ev.target === row) {
      ev.preventDefault();
      openPatent(row.dataset.patentId);
    }
  }

  function onCandidatesFocus(ev) {
    const row = ev.target.closest('.candidate');
    const c = row && S.candidates.find((x) => x.id === row.dataset.patentId);
    const terms = c ? c.matched_terms || [] : [];
    if (terms.join('\u0000') === S.focusTerms.join('\u0000')) return;
    S.focusTerms = terms;
    renderItemText();
  }

  // ------------------------------------------------------------------ the reverse view (one patent)
  async function openPatent(id) {
    if (!id) return;
    const c = S.candidates.find((x) => x.id === id);
    const seq = ++S.seq.patent;
    S.patentId = id;
    S.patentTerms = c ? c.matched_terms || [] : [];
    for (const r of $('candidates').children) r.classList.toggle('opened', r.dataset.patentId === id);
    const panel = $('patent-panel');
    panel.hidden = false;
    document.body.classList.add('with-panel');
    $('patent-title').textContent = 'Loading…';
    $('patent-id').textContent = id;
    $('patent-external').href = PATENT_URL + enc(id);
    $('patent-meta').textContent = '';
    $('patent-text').replaceChildren();
    $('patent-known').replaceChildren();
    $('patent-decisions').replaceChildren();
    $('patent-items').replaceChildren();
    $('patent-items').dataset.state = 'loading';
    const pPatent = api(`/api/patent?id=${enc(id)}`);
    const pItems = api(`/api/patent/items?id=${enc(id)}&top_k=10`);
    pItems.catch(() => {});            // awaited below; this only marks it handled while the patent loads
    try {
      const p = await pPatent;
      if (seq !== S.seq.patent) return;
      renderPatent(p);
    } catch (e) {
      if (seq === S.seq.patent) { $('patent-title').textContent = id; fail(e); }
    }
    try {
      const r = await pItems;
      if (seq !== S.seq.patent) return;
      renderReverse(r);
      $('patent-items').dataset.state = 'ready';
    } catch (e) {
      if (seq === S.seq.patent) { $('patent-items').dataset.state = 'error'; fail(e); }
    }
  }

  function closePatent() {
    S.seq.patent++;
    S.patentId = null;
    for (const r of $('candidates').children) r.classList.remove('opened');
    $('patent-panel').hidden = true;
    document.body.classList.remove('with-panel');
  }

  function renderPatent(p) {
    const title = $('patent-title');
    title.replaceChildren();
    if (p.title) title.append(highlighted(p.title, S.patentTerms));
    else title.append(el('span', { class: 'muted', text: `${p.id} (no title in this index)` }));
    const meta = [p.assignee, p.date, p.in_index === false ? 'not in the index (known from links only)' : '']
      .filter(Boolean);
    $('patent-meta').textContent = meta.join(' · ');
    const text = $('patent-text');
    if (p.text) text.replaceChildren(highlighted(p.text, S.patentTerms));
    else text.replaceChildren(el('span', { class: 'muted',
      text: 'No text in this index: the patent is represented by the products linked to it.' }));
    const known = (p.known_items || []).map((it) => el('li', {},
      el('button', { class: 'linkish item-open', text: it.name, data: { itemId: it.id },
                     attrs: { type: 'button', title: `Review ${it.id}` } })));
    $('patent-known').replaceChildren(...(known.length ? known : [el('li', { class: 'muted', text: 'none' })]));
    renderPatentDecisions(p.decisions || []);
  }

  function renderPatentDecisions(decisions) {
    const rows = decisions.map((d) => el('li', { class: 'patent-decision', data: { itemId: d.item_id } },
      decisionBadge(d), ' ', el('span', { text: d.item_id }),
      d.note ? el('span', { class: 'muted', text: ` — ${d.note}` }) : null));
    $('patent-decisions').replaceChildren(...(rows.length ? rows : [el('li', { class: 'muted', text: 'none yet' })]));
  }

  async function refreshPatentDecisions(id) {
    try {
      const p = await api(`/api/patent?id=${enc(id)}`);
      if (S.patentId === id) renderPatentDecisions(p.decisions || []);
    } catch (e) {
      fail(e);
    }
  }

  function renderReverse(r) {
    const list = $('patent-items');
    const cands = r.candidates || [];
    if (!cands.length) {
      const why = r.patent && !r.patent.text && !r.patent.title
        ? 'No products ranked: the patent has no text in this index.' : 'No products ranked for this patent.';
      list.replaceChildren(el('li', { class: 'empty muted', text: why }));
      return;
    }
    list.replaceChildren(...cands.map((c) => {
      const current = c.decision ? c.decision.decision : '';
      return el('li', { class: 'reverse-item', data: { itemId: c.id, current } },
        el('div', { class: 'cand-head' },
          el('span', { class: 'rank', text: `#${c.rank}` }),
          el('button', { class: 'linkish item-open', text: c.name, data: { itemId: c.id },
                         attrs: { type: 'button', title: `Review ${c.id}` } })),
        el('div', { class: 'cand-head small' },
          el('span', { class: 'score', text: `score ${fmtScore(c.score)}` }),
          el('span', { class: 'badges' },
            c.known ? el('span', { class: 'badge known', text: 'known link' }) : null,
            el('span', { class: 'decision-slot' }, decisionBadge(c.decision)))),
        decisionButtons(current, `Decision on ${c.name} for ${r.patent ? r.patent.id : ''}`));
    }));
  }

  async function decideReverse(row, decision) {
    const patentId = S.patentId;
    const itemId = row.dataset.itemId;
    // the score and rank of this list come from ranking products for the patent, not from the served method:
    // they are not recorded with the decision
    const body = { item_id: itemId, patent_id: patentId, decision, note: '', reviewer: reviewer() };
    const buttons = row.querySelectorAll('[data-decision]');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const d = await api('/api/decisions', { method: 'POST', body });
      showDecision(row, d);
      status(`${patentId} ${VERB[decision]} for ${itemId}.`);
      if (S.item && S.item.id === itemId) {
        const main = rowOf($('candidates'), 'patentId', patentId);
        const c = S.candidates.find((x) => x.id === patentId);
        if (c) c.decision = d;
        if (main) showDecision(main, d);
      }
      refreshPatentDecisions(patentId);
      refreshInfo();
      searchItems();
    } catch (e) {
      fail(e);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  function onPanelClick(ev) {
    const btn = ev.target.closest('button');
    if (!btn) return;
    if (btn.dataset.decision) {
      const row = btn.closest('.reverse-item');
      if (row) decideReverse(row, btn.dataset.decision);
    } else if (btn.classList.contains('item-open')) {
      openItem(btn.dataset.itemId);
    }
  }

  // ------------------------------------------------------------------ wiring
  function init() {
    $('reviewer').value = storageGet(localStorage, REVIEWER_KEY);
    $('reviewer').addEventListener('input', () => storageSet(localStorage, REVIEWER_KEY, reviewer()));
    $('token-form').addEventListener('submit', tokenSubmitted);
    for (const b of document.querySelectorAll('[data-format]')) {
      b.addEventListener('click', () => exportDecisions(b.dataset.format));
    }

    $('tab-known').addEventListener('click', () => selectTab('known'));
    $('tab-new').addEventListener('click', () => { selectTab('new'); $('new-id').focus(); });
    document.querySelector('.tabs').addEventListener('keydown', (ev) => {
      if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
        const next = ev.target.id === 'tab-known' ? 'tab-new' : 'tab-known';
        selectTab(next === 'tab-known' ? 'known' : 'new');
        $(next).focus();
      }
    });

    let timer = null;
    $('item-search').addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(searchItems, 250);
    });
    $('item-search').addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') { ev.preventDefault(); clearTimeout(timer); searchItems(); }
    });
    $('item-list').addEventListener('click', (ev) => {
      const btn = ev.target.closest('.item');
      if (btn) openItem(btn.dataset.itemId);
    });
    $('new-form').addEventListener('submit', openNewDescription);
    $('controls').addEventListener('submit', (ev) => { ev.preventDefault(); loadCandidates(); });

    const cands = $('candidates');
    cands.addEventListener('click', onCandidatesClick);
    cands.addEventListener('keydown', onCandidatesKey);
    cands.addEventListener('focusin', onCandidatesFocus);
    $('item-known').addEventListener('click', (ev) => {
      const btn = ev.target.closest('.patent-open');
      if (btn) openPatent(btn.dataset.patentId);
    });

    $('patent-panel').addEventListener('click', onPanelClick);
    $('patent-close').addEventListener('click', closePatent);
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && !$('patent-panel').hidden) closePatent();
    });

    loadInfo().then(() => status('Ready: search a product, or paste a new description.')).catch(fail);
    searchItems();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
