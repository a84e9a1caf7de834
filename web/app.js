// Parley web client: one page, no framework, no build step. parleyd serves this file at /app.js.
//
// Sections, top to bottom:
//   1. Settings and small helpers (server address, storage, DOM builder, formatting)
//   2. Connection: one WebSocket, replies matched by `id`, reconnect with backoff, keep-alive
//   3. Model: conversations, messages and cursors, presence, friends
//   4. Session: register, login (password or token), logout, kicked
//   5. Server pushes: msg, receipt, typing, presence, friend_*
//   6. Sending: text, files (upload, then send), outbox and retries
//   7. Rendering: sidebar, conversation pane, dialogs, toasts
//   8. Wiring: DOM events and start-up
//
// The wire protocol is docs/PROTOCOL.md. Everything that came from a user or the server
// reaches the DOM through textContent or setAttribute, never through innerHTML.
'use strict';

(() => {
  // ---------------------------------------------------------------------------------------------
  // 1. Settings and small helpers
  // ---------------------------------------------------------------------------------------------

  const REQUEST_TIMEOUT_MS = 15000;   // a request without a reply by then is given up
  const BACKOFF_BASE_MS = 500;        // first reconnect delay; doubles per failed attempt
  const BACKOFF_MAX_MS = 10000;       // reconnect delay cap
  const PING_EVERY_MS = 30000;        // keep-alive (the server closes after 90 s of silence)
  const PING_TIMEOUT_MS = 10000;      // no pong by then: the socket is dead, reconnect
  const TYPING_SEND_EVERY_MS = 2500;  // at most one `typing` per conversation per this
  const TYPING_SHOW_MS = 3500;        // how long "x is typing…" stays after a `typing` push
  const ACK_DELAY_MS = 80;            // acks are batched: one cumulative ack per conversation
  const HISTORY_PAGE = 50;
  const PREVIEW_BATCH = 40;           // sidebar previews fetched per batch after login…
  const PREVIEW_PAUSE_MS = 250;       // …with this pause between batches (rate limit: 200/s)
  const GROUP_POLL_MS = 15000;        // group receipts come from polling `group_members`,
  const GROUP_POLL_FAST_MS = 3000;    // more often while own messages there are not read yet
  const MAX_BODY_BYTES = 16384;       // the server's max_body
  const MAX_FILE_BYTES = 10 * 1024 * 1024;  // the server's max_file
  const NAME_RE = /^[A-Za-z0-9_.-]{1,32}$/;
  // Images shown inline (as the server does). Anything else, SVG included, is a file: a blob:
  // URL runs with this page's origin, so active content must never be opened from one.
  const INLINE_IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp']);

  // The WebSocket lives on the page's own origin. `?server=host:port` (or a full URL) points
  // the page at another parleyd, for development from a plain static file server.
  const serverOverride = new URLSearchParams(location.search).get('server');
  const endpoints = serverEndpoints(serverOverride);

  function serverEndpoints(override) {
    if (!override) {
      const ws = location.protocol === 'https:' ? 'wss:' : 'ws:';
      return { ws: `${ws}//${location.host}/ws`, http: '' };
    }
    const url = new URL(override.includes('://') ? override : `http://${override}`);
    const secure = url.protocol === 'https:' || url.protocol === 'wss:';
    return {
      ws: `${secure ? 'wss' : 'ws'}://${url.host}/ws`,
      http: `${secure ? 'https' : 'http'}://${url.host}`,
    };
  }

  // localStorage, namespaced per server so a development override keeps its own session.
  const storage = (() => {
    const prefix = serverOverride ? `parley@${serverOverride}.` : 'parley.';
    return {
      get(key) {
        try { return JSON.parse(localStorage.getItem(prefix + key)); } catch { return null; }
      },
      set(key, value) {
        try { localStorage.setItem(prefix + key, JSON.stringify(value)); } catch { /* full or disabled */ }
      },
      remove(key) {
        try { localStorage.removeItem(prefix + key); } catch { /* disabled */ }
      },
    };
  })();

  function randomId(length) {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    const bytes = crypto.getRandomValues(new Uint8Array(length));
    return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
  }

  // One device name per browser profile, so the server keeps one delivery cursor for it.
  const device = (() => {
    let id = storage.get('device');
    if (typeof id !== 'string' || !id) {
      id = `web-${randomId(10)}`;
      storage.set('device', id);
    }
    return id;
  })();

  const $ = (id) => document.getElementById(id);

  // h('li', {class: 'x', onclick: fn, dataset: {seq: 3}}, 'text', childNode, …). Strings become
  // text nodes, so user content passed here is never parsed as HTML.
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value == null || value === false) continue;
        if (key === 'class') el.className = value;
        else if (key === 'dataset') Object.assign(el.dataset, value);
        else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
        else el.setAttribute(key, value === true ? '' : String(value));
      }
    }
    for (const child of children.flat()) {
      if (child != null && child !== false) el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  // A small stroke icon from a fixed table (no user data involved).
  const ICON_PATHS = {
    file: ['M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z', 'M14 2v6h6'],
    download: ['M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4', 'M7 10l5 5 5-5', 'M12 15V3'],
  };
  function icon(name) {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    for (const d of ICON_PATHS[name]) {
      const path = document.createElementNS(ns, 'path');
      path.setAttribute('d', d);
      svg.append(path);
    }
    return svg;
  }

  const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short' });
  const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
  const dateFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
  const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });

  function startOfDay(ts) {
    const d = new Date(ts);
    d.setHours(0, 0, 0, 0);
    return d.getTime();
  }

  function daysAgo(ts) {
    return Math.round((startOfDay(Date.now()) - startOfDay(ts)) / 86400000);
  }

  function fmtDay(ts) {
    const days = daysAgo(ts);
    if (days === 0) return 'Today';
    if (days === 1) return 'Yesterday';
    return days < 180 ? dayFmt.format(ts) : dateFmt.format(ts);
  }

  function fmtListTime(ts) {
    const days = daysAgo(ts);
    if (days === 0) return timeFmt.format(ts);
    if (days === 1) return 'Yesterday';
    return days < 7 ? weekdayFmt.format(ts) : dateFmt.format(ts);
  }

  function fmtLastSeen(ts) {
    if (!ts) return 'offline';
    const minutes = Math.floor((Date.now() - ts) / 60000);
    if (minutes < 1) return 'last seen just now';
    if (minutes < 60) return `last seen ${minutes} min ago`;
    const days = daysAgo(ts);
    if (days === 0) return `last seen today at ${timeFmt.format(ts)}`;
    if (days === 1) return `last seen yesterday at ${timeFmt.format(ts)}`;
    return `last seen ${dateFmt.format(ts)}`;
  }

  function fmtSize(bytes) {
    if (!(bytes >= 0)) return '';
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  const utf8 = new TextEncoder();
  const utf8Bytes = (s) => utf8.encode(s).length;

  function listNames(names) {
    if (names.length <= 1) return names.join('');
    return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
  }

  // Splits names typed as "bob, carol dave" into a list; returns {names} or {error}.
  function parseNames(text) {
    const names = [...new Set(text.split(/[\s,;]+/).filter(Boolean))];
    const bad = names.find((n) => !NAME_RE.test(n));
    if (bad) return { error: `"${bad}" is not a valid user name.` };
    return { names };
  }

  // ---------------------------------------------------------------------------------------------
  // 2. Connection
  // ---------------------------------------------------------------------------------------------

  class RequestError extends Error {
    constructor(code, message) {
      super(message || code);
      this.code = code;  // a protocol error code, or 'disconnected' / 'timeout'
    }
  }

  // One WebSocket to parleyd. request() sends a frame with a fresh `id` and settles with its
  // `ok` (resolve) or `error` (reject with RequestError); a disconnect or a timeout rejects too.
  // Frames that answer no pending request are pushes and go to onPush. While started, a closed
  // socket is reopened after an exponential backoff (0.5 s doubling, capped at 10 s, ±20 %
  // jitter); markHealthy() resets the backoff once a login has succeeded.
  class Connection {
    constructor(url, handlers) {
      this.url = url;
      this.handlers = handlers;  // {onOpen(), onPush(frame), onClose(event), onState(state)}
      this.ws = null;
      this.wanted = false;
      this.attempt = 0;
      this.retryTimer = 0;
      this.retryAt = 0;
      this.pingTimer = 0;
      this.nextId = 1;
      this.pending = new Map();  // id -> {resolve, reject, timer}
      this.openWaiters = [];
      this.state = 'offline';    // offline | connecting | open | waiting
    }

    get isOpen() {
      return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
    }

    start() {
      this.wanted = true;
      if (!this.ws && !this.retryTimer) this.connect();
    }

    stop() {
      this.wanted = false;
      clearTimeout(this.retryTimer);
      this.retryTimer = 0;
      if (this.ws) this.abandon(1000, 'bye');
      this.setState('offline');
    }

    // Skips the rest of the backoff delay.
    retryNow() {
      if (!this.wanted || this.ws) return;
      clearTimeout(this.retryTimer);
      this.retryTimer = 0;
      this.connect();
    }

    markHealthy() {
      this.attempt = 0;
    }

    // Resolves once the socket is open; rejects after timeoutMs.
    whenOpen(timeoutMs) {
      if (this.isOpen) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const waiter = { resolve, reject };
        waiter.timer = setTimeout(() => {
          this.openWaiters = this.openWaiters.filter((w) => w !== waiter);
          reject(new RequestError('disconnected', 'Cannot reach the server.'));
        }, timeoutMs);
        this.openWaiters.push(waiter);
      });
    }

    request(op, fields = {}, timeoutMs = REQUEST_TIMEOUT_MS) {
      return new Promise((resolve, reject) => {
        if (!this.isOpen) {
          reject(new RequestError('disconnected', 'Not connected.'));
          return;
        }
        const id = this.nextId++;
        const timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new RequestError('timeout', 'The server did not answer in time.'));
        }, timeoutMs);
        this.pending.set(id, { resolve, reject, timer });
        this.ws.send(JSON.stringify({ ...fields, op, id }));
      });
    }

    // A frame that expects no reply (ack, read, typing). Returns false when not connected.
    notify(op, fields = {}) {
      if (!this.isOpen) return false;
      this.ws.send(JSON.stringify({ ...fields, op }));
      return true;
    }

    connect() {
      this.setState('connecting');
      let ws;
      try {
        ws = new WebSocket(this.url);
      } catch (err) {
        console.error('parley: cannot open WebSocket', err);
        this.scheduleRetry();
        return;
      }
      this.ws = ws;
      ws.onopen = () => {
        if (ws !== this.ws) return;
        this.setState('open');
        this.pingTimer = setInterval(() => this.ping(), PING_EVERY_MS);
        for (const waiter of this.openWaiters.splice(0)) {
          clearTimeout(waiter.timer);
          waiter.resolve();
        }
        this.handlers.onOpen();
      };
      ws.onmessage = (event) => {
        if (ws === this.ws) this.receive(event.data);
      };
      ws.onclose = (event) => this.closed(ws, event);
    }

    receive(text) {
      let frame;
      try {
        frame = JSON.parse(text);
      } catch {
        console.warn('parley: ignoring a frame that is not JSON');
        return;
      }
      if (!frame || typeof frame.op !== 'string') return;
      const waiting = frame.id != null ? this.pending.get(frame.id) : undefined;
      if (waiting && (frame.op === 'ok' || frame.op === 'error' || frame.op === 'pong')) {
        this.pending.delete(frame.id);
        clearTimeout(waiting.timer);
        if (frame.op === 'error') waiting.reject(new RequestError(frame.code, frame.message));
        else waiting.resolve(frame);
        return;
      }
      this.handlers.onPush(frame);
    }

    ping() {
      const ws = this.ws;
      this.request('ping', {}, PING_TIMEOUT_MS).catch((err) => {
        if (err.code === 'timeout' && ws === this.ws) this.abandon(4000, 'ping timeout');
      });
    }

    // Drops the current socket at once (without waiting for a close handshake that a dead
    // network would never finish) and goes through the usual close path.
    abandon(code, reason) {
      const ws = this.ws;
      if (!ws) return;
      this.closed(ws, { code, reason, wasClean: false });
      try { ws.close(code === 1000 ? 1000 : 4000, reason); } catch { /* already closing */ }
    }

    closed(ws, event) {
      if (ws !== this.ws) return;
      this.ws = null;
      clearInterval(this.pingTimer);
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new RequestError('disconnected', 'Connection lost.'));
      }
      this.pending.clear();
      this.handlers.onClose(event);
      if (this.wanted) this.scheduleRetry();
      else this.setState('offline');
    }

    scheduleRetry() {
      const base = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
      const delay = Math.min(BACKOFF_MAX_MS, base * (0.8 + Math.random() * 0.4));
      this.attempt = Math.min(this.attempt + 1, 16);
      this.retryAt = Date.now() + delay;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = 0;
        if (this.wanted) this.connect();
      }, delay);
      this.setState('waiting');
    }

    setState(next) {
      this.state = next;
      this.handlers.onState(next);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // 3. Model
  // ---------------------------------------------------------------------------------------------

  // Conversation keys: 'u:NAME' for a 1:1 chat with NAME, 'g:NAME' for a group.
  const state = {
    me: null,               // the logged-in user's name
    loggedIn: false,        // the current socket has completed `login`
    kicked: false,          // replaced by a login of the same device elsewhere; no auto-reconnect
    convs: new Map(),       // key -> conversation (see newConv)
    activeKey: null,        // the open conversation
    presence: new Map(),    // user -> {online, lastSeen}
    watched: new Set(),     // users watched on the current socket
    friends: { list: [], in: [], out: [] },
    online: { users: [], count: 0, more: false },
    tab: 'chats',
    stickToBottom: true,    // the message list was scrolled to the bottom
  };

  let session = storage.get('session');  // {user, token} or null
  if (!session || typeof session.token !== 'string') session = null;

  function newConv(key) {
    return {
      key,
      isGroup: key.startsWith('g:'),
      name: key.slice(2),
      head: 0,              // newest seq known in the log
      recv: 0,              // this user's cursors
      read: 0,
      peerRecv: 0,          // 1:1: the peer's cursors; group: the furthest other member's
      peerRead: 0,
      acked: 0,             // highest seq this page has acked
      maxSeq: 0,            // highest / lowest seq held in `messages`
      minSeq: 0,
      messages: new Map(),  // seq -> message
      outbox: [],           // own messages without a seq yet, oldest first
      els: new Map(),       // 's'+seq | 'c'+cid -> rendered <li>, reused across renders
      typing: new Map(),    // user -> time the indicator expires
      lastTypingSent: 0,
      historyLoaded: false, // the newest page of history has been fetched on this page
      reachedStart: false,  // nothing older to fetch
      loadingOlder: false,
      role: null,           // groups: 'owner' | 'member'
      memberCount: 0,
      members: null,        // groups: the last `group_members` reply
      left: false,          // groups: this user left or was removed
      created: Date.now(),
      draft: '',
    };
  }

  function ensureConv(key) {
    let conv = state.convs.get(key);
    if (!conv) {
      conv = newConv(key);
      state.convs.set(key, conv);
      if (!conv.isGroup) watchSoon(conv.name);
    }
    return conv;
  }

  function activeConv() {
    return state.activeKey ? state.convs.get(state.activeKey) || null : null;
  }

  function isActive(conv) {
    return conv.key === state.activeKey;
  }

  function keyOfMessage(m) {
    if (m.group != null) return `g:${m.group}`;
    return `u:${m.from === state.me ? m.to : m.from}`;
  }

  // The conversation's name in requests that take peer/group (history, ack, read, …).
  function cursorTarget(conv) {
    return conv.isGroup ? { group: conv.name } : { peer: conv.name };
  }

  // The conversation's name in send and typing.
  function sendTarget(conv) {
    return conv.isGroup ? { group: conv.name } : { to: conv.name };
  }

  // Key of the conversation in login's `after` map.
  function afterKey(conv) {
    return conv.isGroup ? `#${conv.name}` : conv.name;
  }

  // Stores a message from a `msg` push, a history page or a send reply. Returns false if the
  // page already holds that seq (messages are deduplicated by conversation and seq).
  function insertMessage(conv, m) {
    if (typeof m.seq !== 'number' || conv.messages.has(m.seq)) return false;
    const msg = {
      seq: m.seq,
      mid: m.mid,
      ts: typeof m.ts === 'number' ? m.ts : Date.now(),
      from: m.from,
      cid: m.cid,
      type: m.type || 'text',
      body: typeof m.body === 'string' ? m.body : '',
      meta: m.meta,
    };
    conv.messages.set(msg.seq, msg);
    conv.maxSeq = Math.max(conv.maxSeq, msg.seq);
    conv.minSeq = conv.minSeq ? Math.min(conv.minSeq, msg.seq) : msg.seq;
    conv.head = Math.max(conv.head, msg.seq);
    if (msg.from === state.me) {
      // The server moves the sender's cursors past its own message.
      conv.recv = Math.max(conv.recv, msg.seq);
      conv.read = Math.max(conv.read, msg.seq);
    }
    return true;
  }

  // Lowest seq of the unbroken run of messages ending at maxSeq: where older history resumes.
  function contiguousLow(conv) {
    let seq = conv.maxSeq;
    while (seq > 1 && conv.messages.has(seq - 1)) seq--;
    return seq;
  }

  function lastItem(conv) {
    if (conv.outbox.length) return conv.outbox[conv.outbox.length - 1];
    return conv.maxSeq ? conv.messages.get(conv.maxSeq) : null;
  }

  function activity(conv) {
    const last = lastItem(conv);
    return last ? last.ts : conv.created;
  }

  function unreadCount(conv) {
    return Math.max(0, conv.head - conv.read);
  }

  // sent | delivered | read for an own message with a seq.
  function statusOf(conv, msg) {
    const self = !conv.isGroup && conv.name === state.me;
    const read = self ? conv.read : conv.peerRead;
    const recv = self ? conv.recv : Math.max(conv.peerRecv, conv.peerRead);
    if (read >= msg.seq) return 'read';
    if (recv >= msg.seq) return 'delivered';
    return 'sent';
  }

  // True if an own message of the conversation is not read by anyone yet.
  function ownUnread(conv) {
    for (let seq = conv.maxSeq, n = 0; seq > conv.peerRead && n < 200; seq--, n++) {
      const m = conv.messages.get(seq);
      if (m && m.from === state.me && m.type !== 'system') return true;
    }
    return false;
  }

  function typingNames(conv) {
    const now = Date.now();
    const names = [];
    for (const [user, until] of conv.typing) {
      if (until > now) names.push(user);
      else conv.typing.delete(user);
    }
    return names;
  }

  function setPresence(user, online, lastSeen) {
    const prev = state.presence.get(user) || { online: false, lastSeen: null };
    state.presence.set(user, {
      online: !!online,
      lastSeen: lastSeen != null ? lastSeen : prev.lastSeen,
    });
  }

  function isFriend(user) {
    return state.friends.list.some((f) => f.user === user);
  }

  function resetModel() {
    state.me = null;
    state.loggedIn = false;
    state.kicked = false;
    state.convs.clear();
    state.activeKey = null;
    state.presence.clear();
    state.watched.clear();
    state.friends = { list: [], in: [], out: [] };
    state.online = { users: [], count: 0, more: false };
    files.clear();
  }

  // ---------------------------------------------------------------------------------------------
  // 4. Session
  // ---------------------------------------------------------------------------------------------

  const conn = new Connection(endpoints.ws, {
    onOpen: onSocketOpen,
    onPush: onPush,
    onClose: onSocketClose,
    onState: () => renderConnState(),
  });

  // Every socket of a remembered session logs in with the token, resuming each conversation
  // after the last seq this page holds. The sign-in form logs in by itself (no session yet).
  async function onSocketOpen() {
    if (!session || state.kicked) return;
    renderConnState();
    const fields = { token: session.token, device };
    const after = afterCursors();
    if (Object.keys(after).length) fields.after = after;
    try {
      const reply = await conn.request('login', fields);
      onLoggedIn(reply);
    } catch (err) {
      if (err.code === 'unauthorized') {
        endSession('Your session has expired. Please sign in again.');
      } else if (err.code === 'forbidden') {
        toast(`Cannot sign in: ${err.message}`, 'error');
        conn.abandon(4000, 'login refused');
      } else if (err.code === 'timeout') {
        conn.abandon(4000, 'login timeout');
      }
      // 'disconnected': the reconnect loop tries again.
    }
  }

  function afterCursors() {
    const after = {};
    for (const conv of state.convs.values()) {
      if (conv.maxSeq > 0) after[afterKey(conv)] = conv.maxSeq;
    }
    return after;
  }

  function onSocketClose() {
    state.loggedIn = false;
    state.watched.clear();
    if (!session) conn.stop();  // signed out: nothing to reconnect for
    renderConnState();
    if (session) renderPresenceEverywhere();
  }

  async function submitAuth(mode) {
    const user = $('auth-user').value.trim();
    const password = $('auth-password').value;
    const problem = !NAME_RE.test(user)
      ? 'User names are 1–32 letters, digits, "_", "." or "-".'
      : utf8Bytes(password) < 6 || utf8Bytes(password) > 256
        ? 'Passwords are 6–256 characters long.'
        : '';
    if (problem) {
      showAuthError(problem);
      return;
    }
    showAuthError('');
    setAuthBusy(true, mode === 'register' ? 'Creating account…' : 'Signing in…');
    try {
      conn.start();
      await conn.whenOpen(10000);
      if (mode === 'register') await conn.request('register', { user, password });
      const reply = await conn.request('login', { user, password, device });
      session = { user: reply.user || user, token: reply.token };
      storage.set('session', session);
      $('auth-password').value = '';
      onLoggedIn(reply);
    } catch (err) {
      conn.stop();
      showAuthError(authErrorText(err, mode));
    } finally {
      setAuthBusy(false);
    }
  }

  function authErrorText(err, mode) {
    switch (err.code) {
      case 'conflict': return 'That user name is taken. Pick another, or sign in.';
      case 'unauthorized': return 'Wrong user name or password.';
      case 'forbidden':
        return mode === 'register' ? 'This server does not allow sign-ups.' : err.message;
      case 'bad_request': return `The server refused this: ${err.message}`;
      case 'disconnected':
      case 'timeout': return 'Cannot reach the server. Check your connection and try again.';
      default: return err.message || 'Something went wrong.';
    }
  }

  function onLoggedIn(reply) {
    const user = reply.user || (session && session.user);
    if (state.me !== user) {
      resetModel();
      state.me = user;
      const remembered = storage.get('active');
      if (typeof remembered === 'string') state.activeKey = remembered;
    }
    state.loggedIn = true;
    state.kicked = false;
    if (reply.token) {
      session = { user, token: reply.token };
      storage.set('session', session);
    }
    conn.markHealthy();
    for (const c of reply.conversations || []) applySummary(c);
    showChatView();
    flushOutbox();
    refreshAfterLogin();
    renderAll();
  }

  function applySummary(c) {
    const key = c.group != null ? `g:${c.group}` : `u:${c.peer}`;
    const conv = ensureConv(key);
    conv.head = Math.max(conv.head, c.head || 0);
    conv.recv = Math.max(conv.recv, c.recv || 0);
    conv.read = Math.max(conv.read, c.read || 0);
    conv.peerRecv = Math.max(conv.peerRecv, c.peer_recv || 0);
    conv.peerRead = Math.max(conv.peerRead, c.peer_read || 0);
    if (c.group != null) conv.left = false;
  }

  // What a (re)connected page fetches besides the message stream.
  function refreshAfterLogin() {
    refreshGroups();
    refreshFriends();
    refreshOnline();
    const peers = [...state.convs.values()].filter((c) => !c.isGroup).map((c) => c.name);
    watchUsers(peers);
    for (const conv of state.convs.values()) {
      if (conv.head > 0 && conv.messages.size === 0 && !isActive(conv)) loadPreview(conv);
    }
    const conv = activeConv();
    if (conv) {
      if (!conv.historyLoaded) loadLatest(conv);
      if (conv.isGroup) pollMembers(conv);
      markRead();
    } else if (state.activeKey) {
      state.activeKey = null;
    }
  }

  // Signs out on this device: the server closes the socket after `logout`.
  async function logout() {
    if (conn.isOpen && state.loggedIn) {
      try { await conn.request('logout', {}, 3000); } catch { /* closing anyway */ }
    }
    endSession('');
  }

  function endSession(message) {
    session = null;
    storage.remove('session');
    storage.remove('active');
    conn.stop();
    resetModel();
    showAuthView(message);
  }

  function onKicked() {
    state.kicked = true;
    state.loggedIn = false;
    conn.stop();
    renderConnState();
    toast('This account was opened in another tab or window with the same device.', 'warn');
  }

  function resumeHere() {
    state.kicked = false;
    conn.start();
  }

  // ---------------------------------------------------------------------------------------------
  // 5. Server pushes
  // ---------------------------------------------------------------------------------------------

  function onPush(frame) {
    switch (frame.op) {
      case 'msg': onMsg(frame); break;
      case 'receipt': onReceipt(frame); break;
      case 'typing': onTyping(frame); break;
      case 'presence': onPresence(frame); break;
      case 'friend_request':
        toast(`${frame.from} sent you a friend request.`);
        refreshFriends();
        break;
      case 'friend_accepted':
        toast(`${frame.user} accepted your friend request.`);
        refreshFriends();
        break;
      case 'kicked': onKicked(frame); break;
      case 'error':
        // Failures of id-less frames (ack, read, typing) and late replies.
        console.warn('parley: server error', frame.code, frame.message);
        break;
      default: break;  // late replies (after a timeout), pongs, pushes added later
    }
  }

  function onMsg(f) {
    if (f.broadcast) {
      toast(typeof f.body === 'string' ? f.body : '', 'announce');
      return;
    }
    if (!state.me || typeof f.seq !== 'number') return;
    const conv = ensureConv(keyOfMessage(f));
    if (!insertMessage(conv, f)) return;
    if (f.from === state.me && f.cid) settleOutbox(conv, f.cid, null);
    if (f.type === 'system' && conv.isGroup) onSystemMessage(conv, f);
    if (f.from !== state.me) conv.typing.delete(f.from);
    queueAck(conv);
    if (isActive(conv)) {
      const follow = state.stickToBottom || f.from === state.me;
      renderMessages({ toBottom: follow });
      if (!follow) $('jump-btn').hidden = false;
      renderTyping();
      markRead();
    }
    scheduleSidebar();
  }

  function onSystemMessage(conv, f) {
    const meta = f.meta && typeof f.meta === 'object' ? f.meta : {};
    const users = Array.isArray(meta.users) ? meta.users : [];
    const me = users.includes(state.me);
    if ((meta.event === 'remove' || meta.event === 'leave') && me) conv.left = true;
    if ((meta.event === 'add' || meta.event === 'create') && me) conv.left = false;
    if (meta.event === 'owner' && me) conv.role = 'owner';
    refreshGroupsSoon();
    if (isActive(conv)) {
      renderConvHeader();
      if (!conv.left) pollMembers(conv);
    }
  }

  function onReceipt(f) {
    const key = f.group != null ? `g:${f.group}` : `u:${f.peer}`;
    const conv = state.convs.get(key);
    const seq = f.seq;
    if (!conv || typeof seq !== 'number') return;
    if (f.user === state.me) {
      // Another of this user's devices moved our cursors: keeps unread counts in step.
      conv.recv = Math.max(conv.recv, seq);
      if (f.kind === 'read') conv.read = Math.max(conv.read, seq);
    } else {
      conv.peerRecv = Math.max(conv.peerRecv, seq);
      if (f.kind === 'read') conv.peerRead = Math.max(conv.peerRead, seq);
    }
    if (isActive(conv)) updateStatuses(conv);
    scheduleSidebar();
  }

  function onTyping(f) {
    if (!state.me || f.from === state.me) return;
    const conv = state.convs.get(f.group != null ? `g:${f.group}` : `u:${f.from}`);
    if (!conv) return;
    conv.typing.set(f.from, Date.now() + TYPING_SHOW_MS);
    if (isActive(conv)) renderTyping();
    scheduleSidebar();
    setTimeout(() => {
      if (isActive(conv)) renderTyping();
      scheduleSidebar();
    }, TYPING_SHOW_MS + 50);
  }

  function onPresence(f) {
    if (typeof f.user !== 'string') return;
    setPresence(f.user, f.online, f.online ? null : f.ts);
    renderPresenceEverywhere();
    refreshOnlineSoon();
  }

  // --- Cursors: ack what arrived, read what is on screen -----------------------------------

  const ackQueue = new Set();
  let ackTimer = 0;

  function queueAck(conv) {
    ackQueue.add(conv);
    if (!ackTimer) ackTimer = setTimeout(flushAcks, ACK_DELAY_MS);
  }

  // One cumulative ack per conversation for everything that arrived since the last flush.
  function flushAcks() {
    ackTimer = 0;
    for (const conv of ackQueue) {
      if (conv.maxSeq > conv.acked && conn.notify('ack', { ...cursorTarget(conv), seq: conv.maxSeq })) {
        conv.acked = conv.maxSeq;
      }
    }
    ackQueue.clear();
  }

  function pageVisible() {
    return document.visibilityState === 'visible';
  }

  // Marks the open conversation read up to the newest message shown, if the page is visible.
  function markRead() {
    const conv = activeConv();
    if (!conv || !state.loggedIn || !pageVisible() || conv.left) return;
    const seq = conv.maxSeq;
    if (seq > conv.read) {
      if (conn.notify('read', { ...cursorTarget(conv), seq })) {
        conv.read = Math.max(conv.read, seq);
        conv.recv = Math.max(conv.recv, seq);
        if (seq > conv.acked) conv.acked = seq;
        scheduleSidebar();
      }
    }
  }

  // --- Requests made by the page ------------------------------------------------------------

  // The newest message of conversations the page holds nothing of (for the sidebar), fetched
  // in paced batches so that hundreds of conversations stay under the server's rate limit.
  const previewQueue = new Set();
  let previewRunning = false;

  function loadPreview(conv) {
    previewQueue.add(conv);
    if (!previewRunning) drainPreviews();
  }

  async function drainPreviews() {
    previewRunning = true;
    while (previewQueue.size && state.loggedIn) {
      const batch = [...previewQueue].slice(0, PREVIEW_BATCH);
      for (const conv of batch) previewQueue.delete(conv);
      await Promise.all(batch.map(async (conv) => {
        if (conv.messages.size) return;
        try {
          const reply = await conn.request('history', { ...cursorTarget(conv), limit: 1 });
          for (const m of reply.messages || []) insertMessage(conv, m);
        } catch (err) {
          if (err.code === 'forbidden') conv.left = true;
        }
      }));
      scheduleSidebar();
      if (previewQueue.size) await new Promise((resolve) => setTimeout(resolve, PREVIEW_PAUSE_MS));
    }
    previewQueue.clear();
    previewRunning = false;
  }

  async function loadLatest(conv) {
    if (conv.loadingLatest) return;
    conv.loadingLatest = true;
    if (isActive(conv)) renderOlderControls();
    try {
      const reply = await conn.request('history', { ...cursorTarget(conv), limit: HISTORY_PAGE });
      const messages = reply.messages || [];
      for (const m of messages) insertMessage(conv, m);
      conv.historyLoaded = true;
      if (messages.length < HISTORY_PAGE || contiguousLow(conv) <= 1) conv.reachedStart = true;
      queueAck(conv);
      if (isActive(conv)) {
        renderMessages({ toBottom: true });
        markRead();
      }
      scheduleSidebar();
    } catch (err) {
      if (err.code === 'forbidden') {
        conv.left = true;
        conv.historyLoaded = true;
        if (isActive(conv)) renderConversation();
      } else if (err.code === 'not_found') {
        conv.historyLoaded = true;
        conv.reachedStart = true;
        if (isActive(conv)) renderMessages({});
        toast(`${conv.isGroup ? 'Group' : 'User'} "${conv.name}" does not exist.`, 'error');
      }
      // Disconnected: loaded again after the next login.
    } finally {
      conv.loadingLatest = false;
      if (isActive(conv)) renderOlderControls();
    }
  }

  async function loadOlder(conv) {
    if (conv.loadingOlder || conv.reachedStart || !conv.historyLoaded || !state.loggedIn) return;
    const before = contiguousLow(conv);
    if (before <= 1) {
      conv.reachedStart = true;
      renderOlderControls();
      return;
    }
    conv.loadingOlder = true;
    renderOlderControls();
    try {
      const reply = await conn.request('history', { ...cursorTarget(conv), before, limit: HISTORY_PAGE });
      const messages = reply.messages || [];
      for (const m of messages) insertMessage(conv, m);
      if (messages.length < HISTORY_PAGE || contiguousLow(conv) <= 1) conv.reachedStart = true;
      if (isActive(conv)) renderMessages({ keepBottomOffset: true });
    } catch (err) {
      toast(`Could not load older messages: ${err.message}`, 'error');
    } finally {
      conv.loadingOlder = false;
      if (isActive(conv)) renderOlderControls();
    }
  }

  async function refreshGroups() {
    try {
      const reply = await conn.request('groups');
      const listed = new Set();
      for (const g of reply.groups || []) {
        const conv = ensureConv(`g:${g.group}`);
        listed.add(conv.key);
        conv.role = g.role;
        conv.memberCount = g.members;
        conv.head = Math.max(conv.head, g.head || 0);
        conv.read = Math.max(conv.read, g.read || 0);
        conv.recv = Math.max(conv.recv, g.recv || 0);
        conv.left = false;
        if (conv.head > 0 && conv.messages.size === 0 && !isActive(conv)) loadPreview(conv);
      }
      for (const conv of state.convs.values()) {
        if (conv.isGroup && !listed.has(conv.key)) conv.left = true;
      }
      scheduleSidebar();
      if (activeConv() && activeConv().isGroup) renderConvHeader();
    } catch { /* next login refreshes */ }
  }

  let groupsTimer = 0;
  function refreshGroupsSoon() {
    clearTimeout(groupsTimer);
    groupsTimer = setTimeout(refreshGroups, 300);
  }

  // Group receipts: the furthest recv/read cursor of any other member.
  async function pollMembers(conv) {
    if (!conv.isGroup || conv.left || !state.loggedIn) return;
    conv.lastPoll = Date.now();
    try {
      const reply = await conn.request('group_members', { group: conv.name });
      conv.members = reply.members || [];
      conv.memberCount = conv.members.length;
      for (const m of conv.members) {
        if (m.user === state.me) {
          conv.role = m.role;
          continue;
        }
        conv.peerRecv = Math.max(conv.peerRecv, m.recv || 0);
        conv.peerRead = Math.max(conv.peerRead, m.read || 0);
        setPresence(m.user, m.online, null);
      }
      if (isActive(conv)) {
        updateStatuses(conv);
        renderConvHeader();
      }
    } catch (err) {
      if (err.code === 'forbidden') {
        conv.left = true;
        if (isActive(conv)) renderConversation();
      }
    }
  }

  // Watches (presence) belong to the socket: the peers of all 1:1 chats, again after each login.
  let watchBatch = new Set();
  let watchTimer = 0;

  function watchSoon(user) {
    if (!state.loggedIn || state.watched.has(user)) return;
    watchBatch.add(user);
    if (!watchTimer) {
      watchTimer = setTimeout(() => {
        watchTimer = 0;
        const users = [...watchBatch];
        watchBatch = new Set();
        watchUsers(users);
      }, 50);
    }
  }

  async function watchUsers(users) {
    const todo = [...new Set(users)].filter((u) => !state.watched.has(u));
    for (const user of todo) state.watched.add(user);  // taken now, so no one asks twice
    for (let i = 0; i < todo.length; i += 1000) {
      const chunk = todo.slice(i, i + 1000);
      try {
        const reply = await conn.request('watch', { users: chunk });
        for (const p of reply.presence || []) setPresence(p.user, p.online, p.last_seen);
        refreshOnlineSoon();
      } catch (err) {
        for (const user of chunk) state.watched.delete(user);
        // An unknown name fails the whole batch: watch the names one by one instead.
        if (err.code === 'not_found' && chunk.length > 1) {
          for (const user of chunk) await watchUsers([user]);
        }
      }
    }
    renderPresenceEverywhere();
  }

  async function refreshFriends() {
    if (!state.loggedIn) return;
    try {
      const reply = await conn.request('friends');
      const pending = reply.pending || {};
      state.friends = {
        list: reply.friends || [],
        in: pending.in || [],
        out: pending.out || [],
      };
      for (const f of state.friends.list) setPresence(f.user, f.online, f.last_seen);
      renderFriends();
      renderPresenceEverywhere();
    } catch { /* next login refreshes */ }
  }

  async function refreshOnline(more) {
    if (!state.loggedIn) return;
    const after = more && state.online.users.length
      ? state.online.users[state.online.users.length - 1] : undefined;
    try {
      const reply = await conn.request('online', after ? { after, limit: 100 } : { limit: 100 });
      const users = reply.users || [];
      state.online = {
        users: more ? state.online.users.concat(users) : users,
        count: reply.count != null ? reply.count : users.length,
        more: users.length === 100,
      };
      renderOnline();
    } catch { /* next login refreshes */ }
  }

  let onlineTimer = 0;
  function refreshOnlineSoon() {
    clearTimeout(onlineTimer);
    onlineTimer = setTimeout(() => refreshOnline(false), 500);
  }

  // ---------------------------------------------------------------------------------------------
  // 6. Sending
  // ---------------------------------------------------------------------------------------------

  let cidCounter = 0;
  function newCid() {
    cidCounter += 1;
    return `${device}.${Date.now().toString(36)}.${cidCounter.toString(36)}`;
  }

  // An own message waits in conv.outbox until the server gives it a seq. Its `state`:
  // 'uploading' (file bytes on their way), 'queued' (to send, or sent and awaiting the reply),
  // 'failed' (refused; `error` says why, the user may retry).
  function queueOwnMessage(conv, fields) {
    const item = {
      cid: newCid(),
      from: state.me,
      ts: Date.now(),
      type: fields.type,
      body: fields.body,
      meta: fields.meta,
      state: fields.state || 'queued',
      error: '',
      file: fields.file || null,          // the File being uploaded
      localUrl: fields.localUrl || null,  // an object URL for an image's preview
      inFlight: false,
    };
    conv.outbox.push(item);
    if (isActive(conv)) renderMessages({ toBottom: true });
    scheduleSidebar();
    return item;
  }

  function sendText(conv, text) {
    const body = text.replace(/\s+$/, '');
    if (!body.trim()) return true;
    if (utf8Bytes(body) > MAX_BODY_BYTES) {
      toast('That message is too long (at most 16 KB).', 'error');
      return false;
    }
    const item = queueOwnMessage(conv, { type: 'text', body });
    transmit(conv, item);
    return true;
  }

  async function transmit(conv, item) {
    if (item.inFlight || item.state !== 'queued' || !state.loggedIn) return;
    item.inFlight = true;
    const fields = { ...sendTarget(conv), cid: item.cid, type: item.type, body: item.body };
    if (item.meta != null) fields.meta = item.meta;
    try {
      const reply = await conn.request('send', fields);
      settleOutbox(conv, item.cid, reply);
      if (conv.isGroup) setTimeout(() => { if (isActive(conv)) pollMembers(conv); }, 1500);
    } catch (err) {
      item.inFlight = false;
      if (err.code === 'disconnected') return;  // resent after the next login, same cid
      if (err.code === 'timeout' || err.code === 'unavailable' || err.code === 'rate_limited') {
        setTimeout(() => transmit(conv, item), 2000);  // same cid: the server dedupes
        return;
      }
      item.state = 'failed';
      item.error = sendErrorText(err, conv);
      if (isActive(conv)) renderMessages({});
      scheduleSidebar();
    } finally {
      item.inFlight = false;
    }
  }

  function sendErrorText(err, conv) {
    switch (err.code) {
      case 'not_found': return conv.isGroup ? 'This group does not exist.' : `There is no user "${conv.name}".`;
      case 'forbidden': return conv.isGroup ? 'You are not a member of this group.' : 'You cannot message this user.';
      case 'too_large': return 'Too large to send.';
      default: return err.message || 'Not sent.';
    }
  }

  // An own message got its seq: from the send reply, or as a `msg` replayed after a reconnect
  // (reply === null, the message is already stored). Moves it from the outbox to the log.
  function settleOutbox(conv, cid, reply) {
    const index = conv.outbox.findIndex((x) => x.cid === cid);
    if (index < 0) return;
    const [item] = conv.outbox.splice(index, 1);
    let seq = reply ? reply.seq : null;
    if (reply) {
      insertMessage(conv, {
        seq, mid: reply.mid, ts: reply.ts, from: state.me, cid,
        type: item.type, body: item.body, meta: item.meta,
      });
    } else {
      for (const m of conv.messages.values()) if (m.from === state.me && m.cid === cid) seq = m.seq;
    }
    if (item.localUrl && item.meta && item.meta.file != null) {
      files.remember(String(item.meta.file), item.localUrl);
    }
    // Keep the rendered element (and its loaded image) under its new key.
    const el = conv.els.get(`c${cid}`);
    conv.els.delete(`c${cid}`);
    if (el && seq != null && !conv.els.has(`s${seq}`)) conv.els.set(`s${seq}`, el);
    if (isActive(conv)) renderMessages({});
    scheduleSidebar();
  }

  function flushOutbox() {
    for (const conv of state.convs.values()) {
      for (const item of conv.outbox) if (item.state === 'queued') transmit(conv, item);
    }
  }

  function retry(conv, item) {
    item.error = '';
    if (item.file && (!item.meta || item.meta.file == null)) {
      upload(conv, item);
    } else {
      item.state = 'queued';
      transmit(conv, item);
    }
    if (isActive(conv)) renderMessages({});
  }

  function discard(conv, item) {
    conv.outbox = conv.outbox.filter((x) => x !== item);
    conv.els.delete(`c${item.cid}`);
    if (item.localUrl) URL.revokeObjectURL(item.localUrl);
    if (isActive(conv)) renderMessages({});
    scheduleSidebar();
  }

  // --- Files -------------------------------------------------------------------------------

  function sendFile(conv, file) {
    if (!file) return;
    if (conv.left) return;
    if (file.size > MAX_FILE_BYTES) {
      toast(`"${file.name}" is too large (${fmtSize(file.size)}; at most 10 MB).`, 'error');
      return;
    }
    if (file.size === 0) {
      toast(`"${file.name}" is empty.`, 'error');
      return;
    }
    const isImage = INLINE_IMAGE_TYPES.has(file.type);
    const name = file.name || (isImage ? 'image' : 'file');
    const item = queueOwnMessage(conv, {
      type: isImage ? 'image' : 'file',
      body: name,
      state: 'uploading',
      file,
      localUrl: isImage ? URL.createObjectURL(file) : null,
    });
    upload(conv, item);
  }

  async function upload(conv, item) {
    item.state = 'uploading';
    item.error = '';
    const file = item.file;
    const type = file.type || 'application/octet-stream';
    try {
      if (!session) throw new Error('Not signed in.');
      const response = await fetch(`${endpoints.http}/v1/files?name=${encodeURIComponent(item.body)}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${session.token}`, 'Content-Type': type },
        body: file,
      });
      if (!response.ok) throw new Error(await httpErrorText(response));
      const reply = await response.json();
      if (reply.file == null) throw new Error('The server sent no file id.');
      item.meta = {
        file: reply.file,
        name: item.body,
        size: reply.size != null ? reply.size : file.size,
        type: reply.type || type,
      };
      item.state = 'queued';
      if (isActive(conv)) renderMessages({});
      transmit(conv, item);
    } catch (err) {
      item.state = 'failed';
      item.error = `Upload failed: ${err instanceof TypeError ? 'network error' : err.message}`;
      if (isActive(conv)) renderMessages({});
      scheduleSidebar();
    }
  }

  async function httpErrorText(response) {
    let detail = '';
    try {
      const body = await response.json();
      detail = body.message || body.error || '';
    } catch { /* not JSON */ }
    return `${response.status}${detail ? ` ${detail}` : ` ${response.statusText}`}`.trim();
  }

  // Downloaded files, by id: object URLs of the fetched blobs (fetched with the token, since
  // GET /v1/files/ID needs the Authorization header and <img src> cannot send it).
  const files = {
    cache: new Map(),  // id -> Promise<objectURL>
    get(id) {
      let p = this.cache.get(id);
      if (!p) {
        p = this.fetch(id);
        this.cache.set(id, p);
        p.catch(() => this.cache.delete(id));  // let a later render try again
      }
      return p;
    },
    async fetch(id) {
      if (!session) throw new Error('Not signed in.');
      const response = await fetch(`${endpoints.http}/v1/files/${encodeURIComponent(id)}`, {
        headers: { Authorization: `Bearer ${session.token}` },
      });
      if (!response.ok) throw new Error(await httpErrorText(response));
      const blob = await response.blob();
      const type = (blob.type || '').split(';')[0].trim().toLowerCase();
      const safe = INLINE_IMAGE_TYPES.has(type) ? blob : new Blob([blob], { type: 'application/octet-stream' });
      return URL.createObjectURL(safe);
    },
    remember(id, url) {
      this.cache.set(id, Promise.resolve(url));
    },
    clear() {
      for (const p of this.cache.values()) p.then((url) => URL.revokeObjectURL(url), () => {});
      this.cache.clear();
    },
  };

  function fileMeta(msg) {
    const meta = msg.meta;
    if (!meta || typeof meta !== 'object' || meta.file == null) return null;
    return {
      id: String(meta.file),
      name: typeof meta.name === 'string' && meta.name ? meta.name : msg.body || 'file',
      size: typeof meta.size === 'number' ? meta.size : null,
      type: typeof meta.type === 'string' ? meta.type : '',
    };
  }

  // Saves a file message's bytes under its name.
  async function downloadFile(meta, link) {
    link.classList.add('busy');
    try {
      const url = await files.get(meta.id);
      const a = h('a', { href: url, download: meta.name });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (err) {
      toast(`Could not download "${meta.name}": ${err.message}`, 'error');
    } finally {
      link.classList.remove('busy');
    }
  }

  // --- Typing ------------------------------------------------------------------------------

  function onComposerInput() {
    autoGrow();
    const conv = activeConv();
    if (!conv || conv.left || !state.loggedIn) return;
    const now = Date.now();
    if ($('composer-input').value.trim() && now - conv.lastTypingSent > TYPING_SEND_EVERY_MS) {
      conv.lastTypingSent = now;
      conn.notify('typing', sendTarget(conv));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // 7. Rendering
  // ---------------------------------------------------------------------------------------------

  function hue(name) {
    let x = 0;
    for (const ch of name) x = (x * 31 + ch.codePointAt(0)) >>> 0;
    return x % 360;
  }

  function initials(name) {
    const parts = name.split(/[_.\-\s]+/).filter(Boolean);
    const text = parts.length > 1 ? parts[0][0] + parts[1][0] : name.slice(0, 2);
    return text.toUpperCase();
  }

  function fillAvatar(el, name, isGroup, online) {
    el.textContent = initials(name);
    el.style.setProperty('--hue', hue(name));
    el.classList.toggle('group', !!isGroup);
    el.classList.toggle('online', !!online);
  }

  function avatar(name, isGroup, online) {
    const el = h('span', { class: 'avatar', 'aria-hidden': 'true' });
    fillAvatar(el, name, isGroup, online);
    return el;
  }

  // What the page knows of a user's presence; nothing while disconnected (it would be stale).
  function presenceOf(user) {
    return state.loggedIn ? state.presence.get(user) || null : null;
  }

  function presenceText(user) {
    const p = presenceOf(user);
    if (!p) return '';
    return p.online ? 'online' : fmtLastSeen(p.lastSeen);
  }

  function showAuthView(message) {
    document.body.classList.remove('show-conv');
    $('chat-view').hidden = true;
    $('auth-view').hidden = false;
    showAuthError(message || '');
    document.title = 'Parley';
    if (session === null && storage.get('lastUser')) $('auth-user').value = storage.get('lastUser');
    ($('auth-user').value ? $('auth-password') : $('auth-user')).focus();
  }

  function showAuthError(text) {
    $('auth-error').textContent = text;
  }

  function setAuthBusy(busy, text) {
    $('login-btn').disabled = busy;
    $('register-btn').disabled = busy;
    $('auth-form').setAttribute('aria-busy', busy ? 'true' : 'false');
    $('auth-status').textContent = busy ? text : '';
  }

  function showChatView() {
    if (!$('auth-view').hidden) {
      $('auth-view').hidden = true;
    }
    $('chat-view').hidden = false;
    $('me-name').textContent = state.me || (session && session.user) || '';
    fillAvatar($('me-avatar'), state.me || (session && session.user) || '?', false, false);
    if (state.me) storage.set('lastUser', state.me);
  }

  function renderAll() {
    renderConnState();
    renderConvList();
    renderFriends();
    renderOnline();
    renderConversation({});  // after a reconnect, keep the reader's scroll position
  }

  // --- Connection status --------------------------------------------------------------------

  let countdownTimer = 0;

  function renderConnState() {
    const box = $('conn-status');
    const action = $('conn-action');
    let kind;
    let text;
    let button = '';
    clearTimeout(countdownTimer);
    if (state.kicked) {
      kind = 'kicked'; text = 'Open in another tab'; button = 'Use here';
    } else if (state.loggedIn) {
      kind = 'online'; text = 'Connected';
    } else if (conn.state === 'open' || conn.state === 'connecting') {
      kind = 'connecting'; text = conn.state === 'open' ? 'Signing in…' : 'Connecting…';
    } else if (conn.state === 'waiting') {
      const seconds = Math.max(0, Math.ceil((conn.retryAt - Date.now()) / 1000));
      kind = 'offline'; text = `Offline · retrying in ${seconds} s`; button = 'Retry';
      countdownTimer = setTimeout(renderConnState, 1000);
    } else {
      kind = 'offline'; text = 'Offline';
    }
    box.dataset.state = kind;
    $('conn-text').textContent = text;
    action.hidden = !button;
    action.textContent = button;
    document.body.dataset.conn = kind;
  }

  function onConnAction() {
    if (state.kicked) resumeHere();
    else conn.retryNow();
  }

  // --- Sidebar ------------------------------------------------------------------------------

  let sidebarFrame = 0;
  function scheduleSidebar() {
    // A timer, not requestAnimationFrame: the title's unread count must update in hidden tabs.
    if (!sidebarFrame) {
      sidebarFrame = setTimeout(() => {
        sidebarFrame = 0;
        renderConvList();
      }, 30);
    }
  }

  function previewOf(conv, item) {
    if (!item) return conv.isGroup && conv.left ? 'You are no longer a member' : 'No messages yet';
    const mine = item.from === state.me;
    let text;
    if (item.type === 'image') text = `Photo · ${item.body}`;
    else if (item.type === 'file') text = `File · ${item.body}`;
    else if (item.type === 'system') text = systemText(item);
    else text = item.body.replace(/\s+/g, ' ');
    if (item.type === 'system') return text;
    if (item.state === 'failed') return `Not sent · ${text}`;
    if (mine) return `You: ${text}`;
    return conv.isGroup ? `${item.from}: ${text}` : text;
  }

  function convItem(conv) {
    const last = lastItem(conv);
    const unread = unreadCount(conv);
    const typing = typingNames(conv);
    const p = conv.isGroup ? null : presenceOf(conv.name);
    const preview = typing.length
      ? h('span', { class: 'typing-text' }, conv.isGroup ? `${listNames(typing)} typing…` : 'typing…')
      : previewOf(conv, last);
    return h('li', null,
      h('button', {
        type: 'button',
        class: `conv${unread ? ' unread' : ''}`,
        'data-conv': conv.key,
        'aria-current': isActive(conv) ? 'true' : null,
        onclick: () => openConv(conv.key),
      },
      avatar(conv.name, conv.isGroup, p && p.online),
      h('span', { class: 'conv-main' },
        h('span', { class: 'conv-top' },
          h('span', { class: 'conv-name' }, conv.name,
            conv.isGroup ? h('span', { class: 'visually-hidden' }, ' (group)') : null),
          h('time', { class: 'conv-time' }, last ? fmtListTime(last.ts) : '')),
        h('span', { class: 'conv-bottom' },
          h('span', { class: 'conv-preview' }, preview),
          unread ? h('span', { class: 'badge' }, unread > 99 ? '99+' : String(unread)) : null,
          unread ? h('span', { class: 'visually-hidden' }, ' unread') : null))));
  }

  function renderConvList() {
    const list = $('conv-list');
    const focused = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.conv : null;
    const convs = [...state.convs.values()].sort(
      (a, b) => activity(b) - activity(a) || a.name.localeCompare(b.name));
    list.replaceChildren(...convs.map(convItem));
    $('conv-empty').hidden = convs.length > 0;
    if (focused) {
      const el = list.querySelector(`[data-conv="${CSS.escape(focused)}"]`);
      if (el) el.focus();
    }
    const total = convs.reduce((n, c) => n + unreadCount(c), 0);
    document.title = total ? `(${total}) Parley` : 'Parley';
  }

  function renderPresenceEverywhere() {
    scheduleSidebar();
    renderConvHeader();
    renderFriends();
  }

  function personItem(user, actions, note) {
    const p = presenceOf(user);
    return h('li', { class: 'person', 'data-user': user },
      avatar(user, false, p && p.online),
      h('span', { class: 'person-text' },
        h('span', { class: 'person-name' }, user, user === state.me ? h('span', { class: 'muted' }, ' (you)') : null),
        h('span', { class: 'person-note' }, note != null ? note : presenceText(user))),
      h('span', { class: 'person-actions' }, actions));
  }

  function actionBtn(text, onclick, extraClass, label) {
    return h('button', {
      type: 'button', class: `btn tiny${extraClass ? ` ${extraClass}` : ''}`, onclick,
      'aria-label': label || null,
    }, text);
  }

  function renderFriends() {
    const f = state.friends;
    $('friend-in').replaceChildren(...f.in.map((user) => personItem(user, [
      actionBtn('Accept', () => friendAction('friend_accept', user), 'primary', `Accept ${user}`),
      actionBtn('Decline', () => friendAction('friend_remove', user), '', `Decline ${user}`),
    ], 'wants to be your friend')));
    $('friend-out').replaceChildren(...f.out.map((user) => personItem(user, [
      actionBtn('Cancel', () => friendAction('friend_remove', user), '', `Cancel request to ${user}`),
    ], 'request sent')));
    $('friend-list').replaceChildren(...f.list.map((fr) => personItem(fr.user, [
      actionBtn('Chat', () => startChat(fr.user), '', `Chat with ${fr.user}`),
      actionBtn('Remove', () => confirmRemoveFriend(fr.user), 'danger', `Remove ${fr.user}`),
    ])));
    $('friends-pending-in').hidden = f.in.length === 0;
    $('friends-pending-out').hidden = f.out.length === 0;
    $('friends-empty').hidden = f.list.length > 0;
    const badge = $('friends-badge');
    badge.hidden = f.in.length === 0;
    badge.textContent = String(f.in.length);
    const conv = activeConv();
    if (conv) renderConvHeader();
  }

  function renderOnline() {
    const o = state.online;
    $('online-count').textContent = state.loggedIn || o.count ? String(o.count) : '';
    $('online-summary').textContent = o.count === 1 ? '1 person online' : `${o.count} people online`;
    $('online-list').replaceChildren(...o.users.map((user) => personItem(user,
      user === state.me ? [] : [actionBtn('Chat', () => startChat(user), '', `Chat with ${user}`)], 'online')));
    $('online-more').hidden = !o.more;
  }

  function selectTab(tab) {
    state.tab = tab;
    for (const name of ['chats', 'online', 'friends']) {
      const button = $(`tab-${name}`);
      const selected = name === tab;
      button.setAttribute('aria-selected', selected ? 'true' : 'false');
      button.tabIndex = selected ? 0 : -1;
      $(`panel-${name}`).hidden = !selected;
    }
    if (tab === 'online') refreshOnline(false);
    if (tab === 'friends') refreshFriends();
  }

  // --- Conversation pane --------------------------------------------------------------------

  function openConv(key) {
    const conv = state.convs.get(key);
    if (!conv) return;
    const previous = activeConv();
    if (previous && previous !== conv) previous.draft = $('composer-input').value;
    state.activeKey = key;
    storage.set('active', key);
    document.body.classList.add('show-conv');
    state.stickToBottom = true;
    renderConversation();
    $('composer-input').value = conv.draft || '';
    autoGrow();
    if (!window.matchMedia('(max-width: 720px)').matches) $('composer-input').focus();
    if (!conv.historyLoaded && state.loggedIn) loadLatest(conv);
    if (conv.isGroup) pollMembers(conv);
    else watchSoon(conv.name);
    markRead();
    renderConvList();
  }

  function closeConv() {
    document.body.classList.remove('show-conv');
    const conv = activeConv();
    if (conv) conv.draft = $('composer-input').value;
    state.activeKey = null;
    storage.remove('active');
    renderConversation();
    renderConvList();
  }

  // opts as for renderMessages; by default the view jumps to the newest message.
  function renderConversation(opts = { toBottom: true }) {
    const conv = activeConv();
    $('pane-empty').hidden = !!conv;
    $('conversation').hidden = !conv;
    document.body.classList.toggle('show-conv', !!conv);
    if (!conv) return;
    renderConvHeader();
    renderMessages(opts);
    renderTyping();
  }

  function renderConvHeader() {
    const conv = activeConv();
    if (!conv) return;
    $('conv-title').textContent = conv.name;
    const p = conv.isGroup ? null : presenceOf(conv.name);
    fillAvatar($('conv-avatar'), conv.name, conv.isGroup, p && p.online);
    let sub;
    if (conv.isGroup) {
      sub = conv.left ? 'You are no longer a member'
        : conv.memberCount ? `${conv.memberCount} member${conv.memberCount === 1 ? '' : 's'}` : 'Group';
    } else if (conv.name === state.me) {
      sub = 'Notes to yourself';
    } else {
      sub = presenceText(conv.name);
    }
    const subEl = $('conv-sub');
    subEl.textContent = sub;
    subEl.classList.toggle('online', !!(p && p.online));
    $('members-btn').hidden = !conv.isGroup || conv.left;
    $('add-members-btn').hidden = !conv.isGroup || conv.left || conv.role !== 'owner';
    $('leave-btn').hidden = !conv.isGroup || conv.left;
    const canFriend = !conv.isGroup && conv.name !== state.me && !isFriend(conv.name)
      && !state.friends.out.includes(conv.name);
    const friendBtn = $('friend-add-btn');
    friendBtn.hidden = !canFriend;
    friendBtn.textContent = state.friends.in.includes(conv.name) ? 'Accept friend' : 'Add friend';
    const disabled = conv.left;
    $('composer-input').disabled = disabled;
    $('attach-btn').disabled = disabled;
    $('send-btn').disabled = disabled;
    $('composer-input').placeholder = disabled
      ? 'You are no longer a member of this group' : `Message ${conv.name}`;
  }

  function renderTyping() {
    const conv = activeConv();
    const box = $('typing');
    const names = conv ? typingNames(conv) : [];
    if (!names.length) {
      box.replaceChildren();
      box.classList.remove('on');
      return;
    }
    const who = names.length > 3 ? `${names.length} people are` : `${listNames(names)} ${names.length === 1 ? 'is' : 'are'}`;
    box.replaceChildren(h('span', { class: 'dots', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')),
      h('span', null, `${who} typing…`));
    box.classList.add('on');
  }

  function renderOlderControls() {
    const conv = activeConv();
    if (!conv) return;
    const hasAny = conv.messages.size + conv.outbox.length > 0;
    const loading = conv.loadingOlder || (conv.loadingLatest && !hasAny);
    let note = '';
    if (loading) note = 'Loading…';
    else if (conv.reachedStart && hasAny) note = 'This is the beginning of the conversation.';
    else if (conv.historyLoaded && !hasAny) note = conv.left ? '' : 'No messages yet. Say hello!';
    $('older-btn').hidden = loading || !conv.historyLoaded || conv.reachedStart;
    $('older-note').hidden = !note;
    $('older-note').textContent = note;
  }

  function systemText(msg) {
    const meta = msg.meta && typeof msg.meta === 'object' ? msg.meta : {};
    const users = Array.isArray(meta.users) ? meta.users.filter((u) => typeof u === 'string') : [];
    const by = typeof meta.by === 'string' ? meta.by : msg.from;
    const others = users.filter((u) => u !== by);
    switch (meta.event) {
      case 'create':
        return others.length ? `${by} created the group with ${listNames(others)}` : `${by} created the group`;
      case 'add': return `${by} added ${listNames(users)}`;
      case 'remove': return `${by} removed ${listNames(users)}`;
      case 'leave': return `${listNames(users.length ? users : [by])} left`;
      case 'owner': return `${listNames(users)} is now the owner`;
      default: return msg.body || 'Group updated';
    }
  }

  // Plain text with http(s) links made clickable. Text nodes only; hrefs are checked URLs.
  function richText(text) {
    const out = [];
    const re = /\bhttps?:\/\/[^\s<>"]+/g;
    let last = 0;
    let match;
    while ((match = re.exec(text)) !== null) {
      let url = match[0].replace(/[),.;:!?'\]]+$/, '');
      if (match.index > last) out.push(text.slice(last, match.index));
      try {
        const parsed = new URL(url);
        out.push(h('a', { href: parsed.href, target: '_blank', rel: 'noopener noreferrer' }, url));
      } catch {
        out.push(url);
      }
      last = match.index + url.length;
      re.lastIndex = last;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  function imageContent(conv, item) {
    const meta = fileMeta(item);
    const img = h('img', { alt: item.body || 'image', decoding: 'async' });
    const frame = h('a', { class: 'image loading', href: '#', title: item.body || 'image' }, img);
    img.addEventListener('load', () => {
      frame.classList.remove('loading');
      if (isActive(conv) && state.stickToBottom) scrollToBottom();
    });
    frame.addEventListener('click', (event) => {
      if (!frame.dataset.url) event.preventDefault();
    });
    const show = (url) => {  // an object URL: opens in a new tab at full size
      frame.dataset.url = url;
      frame.href = url;
      frame.target = '_blank';
      frame.rel = 'noopener';
      img.src = url;
    };
    if (item.localUrl) {
      show(item.localUrl);
    } else if (meta) {
      files.get(meta.id).then(show, (err) => {
        frame.classList.remove('loading');
        frame.classList.add('broken');
        frame.replaceChildren(h('span', { class: 'broken-text' }, `Image unavailable (${err.message})`));
        frame.title = '';
      });
    } else {
      frame.classList.remove('loading');
      frame.classList.add('broken');
      frame.replaceChildren(h('span', { class: 'broken-text' }, 'Image unavailable'));
    }
    return [frame, h('div', { class: 'caption' }, item.body)];
  }

  function fileContent(item) {
    const meta = fileMeta(item);
    const size = meta && meta.size != null ? meta.size : item.file ? item.file.size : null;
    const details = [size != null ? fmtSize(size) : '', meta && meta.type ? meta.type : ''].filter(Boolean).join(' · ');
    const card = h('a', { class: 'file-card', href: '#', title: meta ? `Download ${meta.name}` : item.body },
      h('span', { class: 'file-icon' }, icon('file')),
      h('span', { class: 'file-text' },
        h('span', { class: 'file-name' }, item.body),
        h('span', { class: 'file-details' }, details || 'file')),
      meta ? h('span', { class: 'file-dl' }, icon('download')) : null);
    card.addEventListener('click', (event) => {
      event.preventDefault();
      if (meta) downloadFile(meta, card);
    });
    return [card];
  }

  function messageContent(conv, item) {
    switch (item.type) {
      case 'image': return imageContent(conv, item);
      case 'file': return fileContent(item);
      case 'custom': return [h('span', { class: 'custom-tag' }, 'custom'), ' ', ...richText(item.body)];
      default: return richText(item.body);
    }
  }

  // Builds the <li> of a message once; updateMessageEl refreshes the parts that change.
  function createMessageEl(conv, item) {
    if (item.type === 'system') {
      return h('li', { class: 'msg system', dataset: { seq: item.seq } },
        h('span', { class: 'system-text' }, systemText(item)));
    }
    const own = item.from === state.me;
    const li = h('li', { class: `msg ${own ? 'own' : 'other'} type-${item.type}` });
    if (conv.isGroup && !own) li.append(h('div', { class: 'sender', style: `--hue:${hue(item.from)}` }, item.from));
    const time = timeFmt.format(item.ts);
    const content = h('div', { class: 'content' }, messageContent(conv, item));
    if (item.type === 'text' || item.type === 'custom') {
      // An invisible copy of the stamp keeps room for it at the end of the last line.
      // (Drawn from an attribute, so it stays out of the message's text.)
      content.append(h('span', { class: `stamp-spacer${own ? ' own' : ''}`, 'aria-hidden': 'true', 'data-time': time }));
    }
    const bubble = h('div', { class: 'bubble' }, content,
      h('span', { class: 'stamp' },
        h('time', { datetime: new Date(item.ts).toISOString(), title: fullFmt.format(item.ts) }, time),
        own ? h('span', { class: 'ticks' }) : null));
    li.append(bubble);
    return li;
  }

  const STATUS_LABEL = {
    uploading: 'Uploading', queued: 'Sending', failed: 'Not sent',
    sent: 'Sent', delivered: 'Delivered', read: 'Read',
  };
  const STATUS_TICKS = { uploading: '', queued: '', failed: '!', sent: '✓', delivered: '✓✓', read: '✓✓' };

  function updateMessageEl(conv, el, item, opts) {
    if (item.type === 'system') return;
    const own = item.from === state.me;
    el.classList.toggle('continued', !!opts.continued);
    if (item.seq != null) el.dataset.seq = item.seq;
    if (!own) return;
    const status = item.seq != null ? statusOf(conv, item) : item.state;
    el.dataset.status = status;
    const ticks = el.querySelector('.ticks');
    ticks.textContent = STATUS_TICKS[status];
    ticks.className = `ticks ${status}`;
    ticks.setAttribute('title', STATUS_LABEL[status]);
    ticks.setAttribute('aria-label', STATUS_LABEL[status]);
    let error = el.querySelector('.msg-error');
    if (status === 'failed') {
      if (!error) {
        error = h('div', { class: 'msg-error', role: 'alert' });
        el.append(error);
      }
      error.replaceChildren(h('span', null, item.error || 'Not sent.'), ' ',
        h('button', { type: 'button', class: 'link-btn', onclick: () => retry(conv, item) }, 'Retry'), ' ',
        h('button', { type: 'button', class: 'link-btn', onclick: () => discard(conv, item) }, 'Delete'));
    } else if (error) {
      error.remove();
    }
    el.classList.toggle('pending', status === 'queued' || status === 'uploading');
  }

  // The items of the open conversation, in order: the log by seq, then the outbox.
  function orderedItems(conv) {
    const seqs = [...conv.messages.keys()].sort((a, b) => a - b);
    return seqs.map((s) => conv.messages.get(s)).concat(conv.outbox);
  }

  function itemKey(item) {
    return item.seq != null ? `s${item.seq}` : `c${item.cid}`;
  }

  // Re-renders the message list, reusing the elements already built. opts: toBottom (scroll
  // to the end), keepBottomOffset (older messages were prepended: keep the view still).
  function renderMessages(opts) {
    const conv = activeConv();
    if (!conv) return;
    const box = $('messages');
    const fromBottom = box.scrollHeight - box.scrollTop;
    const top = box.scrollTop;
    const items = orderedItems(conv);
    const nodes = [];
    let lastDay = null;
    let prev = null;
    for (const item of items) {
      const day = startOfDay(item.ts);
      if (day !== lastDay) {
        nodes.push(h('li', { class: 'day', role: 'separator' }, h('span', null, fmtDay(item.ts))));
        lastDay = day;
        prev = null;
      }
      const key = itemKey(item);
      let el = conv.els.get(key);
      if (!el) {
        el = createMessageEl(conv, item);
        conv.els.set(key, el);
      }
      const continued = prev && prev.type !== 'system' && item.type !== 'system'
        && prev.from === item.from && item.ts - prev.ts < 5 * 60000;
      updateMessageEl(conv, el, item, { continued });
      nodes.push(el);
      prev = item;
    }
    $('msg-list').replaceChildren(...nodes);
    $('msg-list').setAttribute('aria-busy', conv.loadingLatest ? 'true' : 'false');
    renderOlderControls();
    if (opts.toBottom) {
      scrollToBottom();
    } else if (opts.keepBottomOffset) {
      box.scrollTop = box.scrollHeight - fromBottom;
    } else if (state.stickToBottom) {
      scrollToBottom();
    } else {
      box.scrollTop = top;
    }
  }

  // Refreshes the ticks of own messages after a receipt (no rebuild).
  function updateStatuses(conv) {
    for (const item of conv.messages.values()) {
      if (item.from !== state.me || item.type === 'system') continue;
      const el = conv.els.get(itemKey(item));
      if (el && el.isConnected) {
        const status = statusOf(conv, item);
        if (el.dataset.status !== status) updateMessageEl(conv, el, item, { continued: el.classList.contains('continued') });
      }
    }
  }

  function scrollToBottom() {
    const box = $('messages');
    box.scrollTop = box.scrollHeight;
    state.stickToBottom = true;
    $('jump-btn').hidden = true;
  }

  function onMessagesScroll() {
    const box = $('messages');
    state.stickToBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    if (state.stickToBottom) $('jump-btn').hidden = true;
    const conv = activeConv();
    if (conv && box.scrollTop < 120 && !conv.reachedStart && conv.historyLoaded) loadOlder(conv);
  }

  function autoGrow() {
    const input = $('composer-input');
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  }

  // --- Dialogs and toasts -------------------------------------------------------------------

  // A modal form. fields: [{name, label, placeholder, value, hint}]. onSubmit(values) returns
  // an error text to show (the dialog stays open) or nothing (the dialog closes).
  function formDialog({ title, fields, submitLabel, onSubmit, intro }) {
    const dialog = $('dialog');
    const error = h('p', { class: 'form-error', role: 'alert' });
    const inputs = fields.map((f) => h('input', {
      name: f.name, placeholder: f.placeholder || '', value: f.value || '',
      autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', maxlength: f.maxlength || null,
    }));
    const submit = h('button', { type: 'submit', class: 'btn primary' }, submitLabel);
    const form = h('form', { class: 'dialog-form', method: 'dialog' },
      h('h2', { id: 'dialog-title' }, title),
      intro ? h('p', { class: 'muted' }, intro) : null,
      fields.map((f, i) => h('label', { class: 'field' },
        h('span', null, f.label), inputs[i], f.hint ? h('small', { class: 'hint' }, f.hint) : null)),
      error,
      h('div', { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'btn', onclick: () => dialog.close() }, 'Cancel'),
        submit));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const values = Object.fromEntries(fields.map((f, i) => [f.name, inputs[i].value.trim()]));
      submit.disabled = true;
      error.textContent = '';
      try {
        const problem = await onSubmit(values);
        if (problem) error.textContent = problem;
        else dialog.close();
      } catch (err) {
        error.textContent = err.message || 'Something went wrong.';
      } finally {
        submit.disabled = false;
      }
    });
    dialog.replaceChildren(form);
    dialog.showModal();
    inputs[0].focus();
  }

  function infoDialog(title, body) {
    const dialog = $('dialog');
    dialog.replaceChildren(h('div', { class: 'dialog-form' },
      h('h2', { id: 'dialog-title' }, title),
      body,
      h('div', { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'btn primary', onclick: () => dialog.close() }, 'Close'))));
    dialog.showModal();
  }

  function confirmDialog(title, text, confirmLabel, onConfirm) {
    const dialog = $('dialog');
    const ok = h('button', { type: 'button', class: 'btn danger-solid' }, confirmLabel);
    ok.addEventListener('click', async () => {
      ok.disabled = true;
      try { await onConfirm(); } finally { dialog.close(); }
    });
    dialog.replaceChildren(h('div', { class: 'dialog-form' },
      h('h2', { id: 'dialog-title' }, title),
      h('p', null, text),
      h('div', { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'btn', onclick: () => dialog.close() }, 'Cancel'), ok)));
    dialog.showModal();
    ok.focus();
  }

  function toast(text, kind = 'info') {
    const el = h('div', { class: `toast ${kind}` }, text);
    $('toasts').append(el);
    setTimeout(() => el.classList.add('leaving'), kind === 'announce' ? 9000 : 5000);
    setTimeout(() => el.remove(), kind === 'announce' ? 9500 : 5500);
  }

  function requireOnline() {
    if (state.loggedIn) return '';
    return 'You are offline. Try again when the connection is back.';
  }

  // --- Actions behind buttons ---------------------------------------------------------------

  // Opens the chat with `user`, checking first that the user exists (watch answers not_found).
  async function startChat(user) {
    const key = `u:${user}`;
    if (!state.convs.has(key)) {
      const offline = requireOnline();
      if (offline) return offline;
      try {
        const reply = await conn.request('watch', { users: [user] });
        for (const p of reply.presence || []) {
          state.watched.add(p.user);
          setPresence(p.user, p.online, p.last_seen);
        }
      } catch (err) {
        return err.code === 'not_found' ? `There is no user named "${user}".` : err.message;
      }
      ensureConv(key);
    }
    selectTab('chats');
    openConv(key);
    return '';
  }

  function newChatDialog() {
    formDialog({
      title: 'New chat',
      fields: [{ name: 'user', label: 'User name', placeholder: 'e.g. alice', maxlength: 32 }],
      submitLabel: 'Start chat',
      onSubmit: async ({ user }) => {
        if (!NAME_RE.test(user)) return 'Enter a user name (letters, digits, "_", "." or "-").';
        return startChat(user);
      },
    });
  }

  function newGroupDialog() {
    formDialog({
      title: 'New group',
      fields: [
        { name: 'group', label: 'Group name', placeholder: 'e.g. team', maxlength: 32 },
        { name: 'members', label: 'Members', placeholder: 'bob, carol', hint: 'User names, separated by commas or spaces. You are added automatically.' },
      ],
      submitLabel: 'Create group',
      onSubmit: async ({ group, members }) => {
        if (!NAME_RE.test(group)) return 'Group names are 1–32 letters, digits, "_", "." or "-".';
        const parsed = parseNames(members);
        if (parsed.error) return parsed.error;
        const offline = requireOnline();
        if (offline) return offline;
        try {
          await conn.request('group_create', { group, members: parsed.names });
        } catch (err) {
          if (err.code === 'conflict') return `The name "${group}" is taken.`;
          if (err.code === 'not_found') return `Unknown user in the list: ${err.message}`;
          return err.message;
        }
        const conv = ensureConv(`g:${group}`);
        conv.role = 'owner';
        conv.left = false;
        conv.memberCount = parsed.names.filter((n) => n !== state.me).length + 1;
        selectTab('chats');
        openConv(conv.key);
        refreshGroupsSoon();
        return '';
      },
    });
  }

  function addMembersDialog() {
    const conv = activeConv();
    if (!conv || !conv.isGroup) return;
    formDialog({
      title: `Add people to ${conv.name}`,
      fields: [{ name: 'members', label: 'User names', placeholder: 'dave, erin' }],
      submitLabel: 'Add',
      onSubmit: async ({ members }) => {
        const parsed = parseNames(members);
        if (parsed.error) return parsed.error;
        if (!parsed.names.length) return 'Enter at least one user name.';
        const offline = requireOnline();
        if (offline) return offline;
        try {
          await conn.request('group_add', { group: conv.name, members: parsed.names });
        } catch (err) {
          if (err.code === 'not_found') return `Unknown user in the list: ${err.message}`;
          if (err.code === 'forbidden') return 'Only the group owner can add people.';
          return err.message;
        }
        toast(`Added ${listNames(parsed.names)} to ${conv.name}.`);
        pollMembers(conv);
        return '';
      },
    });
  }

  async function membersDialog() {
    const conv = activeConv();
    if (!conv || !conv.isGroup) return;
    await pollMembers(conv);
    const members = conv.members || [];
    const seenUpTo = (m) => (m.read >= conv.maxSeq && conv.maxSeq ? 'read everything'
      : m.read ? `read up to #${m.read}` : 'nothing read yet');
    const list = h('ul', { class: 'people members' }, members.map((m) => personItem(m.user,
      m.user === state.me ? [] : [actionBtn('Chat', () => { $('dialog').close(); startChat(m.user); }, '', `Chat with ${m.user}`)],
      `${m.role === 'owner' ? 'owner · ' : ''}${m.online ? 'online' : 'offline'} · ${seenUpTo(m)}`)));
    infoDialog(`${conv.name} · ${members.length} member${members.length === 1 ? '' : 's'}`, list);
  }

  function leaveGroup() {
    const conv = activeConv();
    if (!conv || !conv.isGroup) return;
    confirmDialog(`Leave ${conv.name}?`, 'You will stop receiving its messages.', 'Leave', async () => {
      try {
        await conn.request('group_leave', { group: conv.name });
        conv.left = true;
        renderConversation();
        scheduleSidebar();
      } catch (err) {
        toast(`Could not leave: ${err.message}`, 'error');
      }
    });
  }

  async function friendAction(op, user) {
    const offline = requireOnline();
    if (offline) {
      toast(offline, 'error');
      return offline;
    }
    try {
      await conn.request(op, { user });
    } catch (err) {
      const text = err.code === 'not_found' ? `There is no user named "${user}".`
        : err.code === 'bad_request' ? err.message : `Failed: ${err.message}`;
      toast(text, 'error');
      return text;
    }
    await refreshFriends();
    return '';
  }

  function confirmRemoveFriend(user) {
    confirmDialog(`Remove ${user}?`, `${user} will no longer be your friend.`, 'Remove',
      () => friendAction('friend_remove', user));
  }

  async function submitFriendForm(event) {
    event.preventDefault();
    const input = $('friend-input');
    const user = input.value.trim();
    if (!NAME_RE.test(user)) {
      toast('Enter a valid user name.', 'error');
      return;
    }
    if (user === state.me) {
      toast('You cannot add yourself.', 'error');
      return;
    }
    const accepting = state.friends.in.includes(user);
    const problem = await friendAction(accepting ? 'friend_accept' : 'friend_request', user);
    if (!problem) {
      input.value = '';
      toast(accepting ? `You and ${user} are now friends.` : `Friend request sent to ${user}.`);
    }
  }

  async function friendFromHeader() {
    const conv = activeConv();
    if (!conv || conv.isGroup) return;
    const accepting = state.friends.in.includes(conv.name);
    const problem = await friendAction(accepting ? 'friend_accept' : 'friend_request', conv.name);
    if (!problem) toast(accepting ? `You and ${conv.name} are now friends.` : `Friend request sent to ${conv.name}.`);
  }

  // ---------------------------------------------------------------------------------------------
  // 8. Wiring
  // ---------------------------------------------------------------------------------------------

  function submitComposer(event) {
    if (event) event.preventDefault();
    const conv = activeConv();
    const input = $('composer-input');
    if (!conv || conv.left) return;
    if (sendText(conv, input.value)) {
      input.value = '';
      conv.draft = '';
      autoGrow();
    }
  }

  function wire() {
    $('auth-form').addEventListener('submit', (event) => {
      event.preventDefault();
      submitAuth('login');
    });
    $('register-btn').addEventListener('click', () => submitAuth('register'));
    $('logout-btn').addEventListener('click', logout);
    $('conn-action').addEventListener('click', onConnAction);

    for (const name of ['chats', 'online', 'friends']) {
      $(`tab-${name}`).addEventListener('click', () => selectTab(name));
    }
    $('tab-chats').parentElement.addEventListener('keydown', (event) => {
      if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
      const order = ['chats', 'online', 'friends'];
      const next = order[(order.indexOf(state.tab) + (event.key === 'ArrowRight' ? 1 : 2)) % 3];
      selectTab(next);
      $(`tab-${next}`).focus();
    });
    $('new-chat-btn').addEventListener('click', newChatDialog);
    $('new-group-btn').addEventListener('click', newGroupDialog);
    $('online-more').addEventListener('click', () => refreshOnline(true));
    $('friend-form').addEventListener('submit', submitFriendForm);

    $('back-btn').addEventListener('click', closeConv);
    $('members-btn').addEventListener('click', membersDialog);
    $('add-members-btn').addEventListener('click', addMembersDialog);
    $('leave-btn').addEventListener('click', leaveGroup);
    $('friend-add-btn').addEventListener('click', friendFromHeader);
    $('older-btn').addEventListener('click', () => {
      const conv = activeConv();
      if (conv) loadOlder(conv);
    });
    $('messages').addEventListener('scroll', onMessagesScroll, { passive: true });
    $('jump-btn').addEventListener('click', scrollToBottom);

    const input = $('composer-input');
    $('composer').addEventListener('submit', submitComposer);
    input.addEventListener('input', onComposerInput);
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) submitComposer(event);
    });
    input.addEventListener('paste', (event) => {
      const conv = activeConv();
      const pasted = [...(event.clipboardData ? event.clipboardData.files : [])];
      if (conv && pasted.length) {
        event.preventDefault();
        for (const file of pasted) sendFile(conv, file);
      }
    });
    $('attach-btn').addEventListener('click', () => $('file-input').click());
    $('file-input').addEventListener('change', () => {
      const conv = activeConv();
      const picked = [...$('file-input').files];
      $('file-input').value = '';
      if (conv) for (const file of picked) sendFile(conv, file);
    });

    const pane = $('conversation');
    let dragDepth = 0;
    pane.addEventListener('dragenter', (event) => {
      if (!event.dataTransfer || ![...event.dataTransfer.types].includes('Files')) return;
      dragDepth += 1;
      $('drop-hint').hidden = false;
    });
    pane.addEventListener('dragleave', () => {
      dragDepth = Math.max(0, dragDepth - 1);
      if (!dragDepth) $('drop-hint').hidden = true;
    });
    pane.addEventListener('dragover', (event) => event.preventDefault());
    pane.addEventListener('drop', (event) => {
      event.preventDefault();
      dragDepth = 0;
      $('drop-hint').hidden = true;
      const conv = activeConv();
      if (conv && !conv.left) for (const file of event.dataTransfer.files) sendFile(conv, file);
    });

    document.addEventListener('visibilitychange', () => {
      if (pageVisible()) markRead();
    });
    window.addEventListener('focus', markRead);
    window.addEventListener('online', () => conn.retryNow());
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && !$('dialog').open && document.body.classList.contains('show-conv')
          && window.matchMedia('(max-width: 720px)').matches) closeConv();
    });

    setInterval(() => {
      const conv = activeConv();
      if (!conv || !conv.isGroup || !pageVisible()) return;
      const due = Date.now() - (conv.lastPoll || 0) >= GROUP_POLL_MS - 500;
      if (due || ownUnread(conv)) pollMembers(conv);
    }, GROUP_POLL_FAST_MS);
    setInterval(() => {  // keeps "last seen 5 min ago", list times and the online count fresh
      if (!state.loggedIn) return;
      renderPresenceEverywhere();
      if (state.tab !== 'online' || !state.online.more) refreshOnline(false);
    }, 30000);
  }

  function boot() {
    wire();
    if (session) {
      // A remembered session: show the chat at once and log in with the token.
      state.me = session.user;
      const remembered = storage.get('active');
      if (typeof remembered === 'string') state.activeKey = remembered;
      showChatView();
      renderAll();
      conn.start();
    } else {
      showAuthView('');
    }
  }

  boot();
})();
