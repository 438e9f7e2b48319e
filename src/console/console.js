// The console page: sends /journey commands and button clicks to the app and renders the channel's Block Kit.
const messagesEl = document.getElementById('messages');
const form = document.getElementById('composer');
const input = document.getElementById('composer-input');
const suggestionsEl = document.getElementById('suggestions');
const rawToggle = document.getElementById('raw-toggle');
const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

// Off loopback the app needs CONSOLE_TOKEN: opened as /console/?token=…, the page keeps it for this tab.
const token = new URLSearchParams(location.search).get('token') ?? sessionStorage.getItem('console-token');
if (token) sessionStorage.setItem('console-token', token);
const tokenQuery = token ? `?token=${encodeURIComponent(token)}` : '';

let completions = { subcommands: [], journeys: [] };
let rendered = '';

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Slack's mrkdwn: *bold*, _italic_, ~strike~, `code`, ```pre```, <url|label>, <#C…>, <@U…>, &lt; escapes. */
function mrkdwn(text) {
  const root = document.createDocumentFragment();
  const decode = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const parts = String(text).split(/(```[\s\S]*?```)/g);
  for (const part of parts) {
    if (part.startsWith('```') && part.endsWith('```') && part.length >= 6) {
      root.append(el('pre', {}, decode(part.slice(3, -3))));
      continue;
    }
    const lines = part.split('\n');
    lines.forEach((line, i) => {
      if (i > 0) root.append(el('br'));
      inline(line, root, decode);
    });
  }
  return root;
}

/** The emoji shortcodes the app's messages use; others stay as typed, like Slack shows unknown ones. */
const EMOJI = {
  white_check_mark: '✅', warning: '⚠️', thread: '🧵', page_facing_up: '📄', bar_chart: '📊',
  chart_with_upwards_trend: '📈', chart_with_downwards_trend: '📉', hourglass_flowing_sand: '⏳',
  calendar: '📆', bell: '🔔', no_bell: '🔕', x: '❌', information_source: 'ℹ️', mag: '🔍', clock3: '🕒',
  arrow_up: '⬆️', arrow_down: '⬇️', small_red_triangle: '🔺', small_red_triangle_down: '🔻', turtle: '🐢',
};

function inline(line, parent, decode) {
  const pattern = /(`[^`]+`)|(<[^>]+>)|(:[a-z0-9_+-]+:)|(\*[^*\n]+\*)|(_[^_\n]+_)|(~[^~\n]+~)/g;
  let last = 0;
  for (const m of line.matchAll(pattern)) {
    if (m.index > last) parent.append(decode(line.slice(last, m.index)));
    const token = m[0];
    if (m[1]) parent.append(el('code', {}, decode(token.slice(1, -1))));
    else if (m[2]) parent.append(link(token.slice(1, -1), decode));
    else if (m[3]) parent.append(EMOJI[token.slice(1, -1)] ?? token);
    else if (m[4]) { const b = el('strong'); inline(token.slice(1, -1), b, decode); parent.append(b); }
    else if (m[5]) { const i = el('em'); inline(token.slice(1, -1), i, decode); parent.append(i); }
    else if (m[6]) { const s = el('s'); inline(token.slice(1, -1), s, decode); parent.append(s); }
    last = m.index + token.length;
  }
  if (last < line.length) parent.append(decode(line.slice(last)));
}

function link(inner, decode) {
  const [target, label] = inner.split('|');
  if (target.startsWith('#C')) return el('span', { class: 'mention' }, `#${label || 'channel'}`);
  if (target.startsWith('@U')) return el('span', { class: 'mention' }, `@${label || (target === '@U_CONSOLE' ? 'you' : 'someone')}`);
  if (target.startsWith('!')) return el('span', { class: 'mention' }, `@${label || target.slice(1)}`);
  const url = decode(target);
  const safe = /^(https?:|mailto:)/i.test(url) ? url : '#';
  return el('a', { href: safe, target: '_blank', rel: 'noopener noreferrer' }, decode(label ?? target));
}

function textOf(obj) {
  if (!obj) return null;
  return obj.type === 'mrkdwn' ? mrkdwn(obj.text) : document.createTextNode(obj.text);
}

/** An image block naming an uploaded file ({ id } or { url }): the console serves the file itself. */
function imageOfSlackFile(file) {
  if (!file) return '';
  return file.id ? `/console/files/${encodeURIComponent(file.id)}${tokenQuery}` : (file.url ?? '');
}

function renderButton(element, message) {
  const label = element.text?.text ?? 'Button';
  if (element.url) {
    return el('a', { class: 'btn', href: element.url, target: '_blank', rel: 'noopener noreferrer' }, label, ' ↗');
  }
  return el('button', {
    class: `btn${element.style === 'primary' ? ' primary' : ''}`,
    type: 'button',
    onclick: (event) => clickButton(event.currentTarget, message.ts, element),
  }, label);
}

function renderBlock(block, message) {
  switch (block.type) {
    case 'header':
      return el('h2', { class: 'block block-header' }, block.text?.text ?? '');
    case 'section': {
      const body = el('div', { class: 'block section' });
      if (block.text) body.append(el('div', {}, textOf(block.text)));
      if (block.fields) body.append(el('div', { class: 'fields' }, block.fields.map((f) => el('div', {}, textOf(f)))));
      if (block.accessory?.type === 'button') {
        return el('div', { class: 'block section-with-accessory' }, body, renderButton(block.accessory, message));
      }
      if (block.accessory?.type === 'image') body.append(el('img', { src: block.accessory.image_url, alt: block.accessory.alt_text ?? '' }));
      return body;
    }
    case 'context':
      return el('div', { class: 'block context' }, (block.elements ?? []).map((e) =>
        e.type === 'image' ? el('img', { src: e.image_url, alt: e.alt_text ?? '', width: 16, height: 16 }) : el('span', {}, textOf(e))));
    case 'divider':
      return el('hr', { class: 'divider' });
    case 'image':
      return el('figure', { class: 'block' },
        block.title ? el('figcaption', {}, block.title.text) : null,
        el('img', { src: block.image_url ?? imageOfSlackFile(block.slack_file), alt: block.alt_text ?? '' }));
    case 'actions':
      return el('div', { class: 'block actions' }, (block.elements ?? []).filter((e) => e.type === 'button').map((e) => renderButton(e, message)));
    default:
      return el('div', { class: 'block context' }, `(${block.type} block)`);
  }
}

function renderFile(file) {
  const url = `/console/files/${encodeURIComponent(file.id)}${tokenQuery}`;
  return el('div', { class: 'file' },
    el('div', {}, el('span', { class: 'file-name' }, file.isImage ? '🖼 ' : '📄 ', file.name), ' ',
      el('span', { class: 'meta' }, `${file.size.toLocaleString('en-US')} bytes`), ' ',
      el('a', { href: url, download: file.isImage ? null : file.name, class: 'btn' }, 'Download')),
    file.isImage ? el('img', { src: url, alt: `Chart: ${file.name}` }) : null,
    file.preview ? el('pre', { 'aria-label': `First rows of ${file.name}` }, file.preview) : null);
}

function renderMessage(message, replies) {
  const fromApp = message.from === 'app';
  const body = el('div', { class: 'body' },
    el('div', { class: 'meta' }, el('strong', {}, fromApp ? 'Journey Analytics' : 'you'), fromApp ? 'APP' : ''),
    message.ephemeral ? el('div', { class: 'ephemeral-note' }, 'Only visible to you') : null,
    message.blocks.length > 0 ? message.blocks.map((b) => renderBlock(b, message)) : el('div', { class: 'block' }, mrkdwn(message.text)),
    message.files.map(renderFile),
    message.blocks.length > 0 ? el('div', { class: 'raw' },
      el('pre', {}, JSON.stringify({ blocks: message.blocks }, null, 2)),
      el('button', { class: 'btn copy', type: 'button', onclick: () => navigator.clipboard?.writeText(JSON.stringify({ blocks: message.blocks }, null, 2)) }, 'Copy JSON for Block Kit Builder')) : null,
    replies.length > 0 ? el('div', { class: 'thread', role: 'group', 'aria-label': 'Thread' },
      el('div', { class: 'thread-label' }, `${replies.length} ${replies.length === 1 ? 'reply' : 'replies'} in thread`),
      replies.map((r) => renderMessage(r, []))) : null);
  return el('article', { class: `message${message.ephemeral ? ' ephemeral' : ''}`, 'data-ts': message.ts },
    el('div', { class: `avatar${fromApp ? '' : ' you'}`, 'aria-hidden': 'true' }, fromApp ? 'JA' : 'Y'), body);
}

function render(messages) {
  const key = JSON.stringify(messages);
  if (key === rendered) return;
  rendered = key;
  const replies = new Map();
  for (const m of messages) if (m.threadTs) replies.set(m.threadTs, [...(replies.get(m.threadTs) ?? []), m]);
  const top = messages.filter((m) => !m.threadTs || !messages.some((p) => p.ts === m.threadTs));
  messagesEl.replaceChildren(...top.map((m) => renderMessage(m, replies.get(m.ts) ?? [])));
  messagesEl.scrollTop = messagesEl.scrollHeight;
}

async function call(path, payload) {
  messagesEl.setAttribute('aria-busy', 'true');
  try {
    const res = await fetch(`/console/api/${path}`, {
      method: payload ? 'POST' : 'GET',
      headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...(token ? { 'x-console-token': token } : {}) },
      body: payload ? JSON.stringify(payload) : undefined,
    });
    if (!res.ok) throw new Error(`The app answered HTTP ${res.status}`);
    return await res.json();
  } finally {
    messagesEl.setAttribute('aria-busy', 'false');
  }
}

async function clickButton(button, ts, element) {
  button.disabled = true;
  try {
    render((await call('action', { ts, actionId: element.action_id, value: element.value })).messages);
  } catch (err) {
    alert(err.message);
  } finally {
    button.disabled = false;
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  closeSuggestions();
  const text = input.value.trim();
  if (text === '' || text === '/journey') return;
  input.value = '/journey ';
  try {
    render((await call('command', { text, tz })).messages);
  } catch (err) {
    alert(err.message);
  }
  input.focus();
});

rawToggle.addEventListener('change', () => document.body.classList.toggle('show-raw', rawToggle.checked));

// Completion: subcommands after "/journey ", then journey ids after a report subcommand.
let options = [];
let selected = -1;

function currentSuggestions() {
  const value = input.value;
  const m = /^\/journey\s+(\S*)$/.exec(value);
  if (m) return completions.subcommands.filter((s) => s.startsWith(m[1].toLowerCase()) && s !== m[1]).map((s) => ({ label: s, value: `/journey ${s} ` }));
  const j = /^\/journey\s+(overview|steps|step|export)\s+(\S*)$/i.exec(value);
  if (j) {
    const prefix = j[2].toLowerCase();
    return completions.journeys
      .filter((x) => x.id.toLowerCase().startsWith(prefix) || x.name.toLowerCase().startsWith(prefix))
      .filter((x) => x.id !== j[2])
      .slice(0, 8)
      .map((x) => ({ label: `${x.id} — ${x.name}`, value: `/journey ${j[1]} ${x.id} ` }));
  }
  return [];
}

function closeSuggestions() {
  options = [];
  selected = -1;
  suggestionsEl.hidden = true;
  input.setAttribute('aria-expanded', 'false');
  input.removeAttribute('aria-activedescendant');
}

function showSuggestions() {
  options = currentSuggestions();
  if (options.length === 0) return closeSuggestions();
  selected = Math.min(selected, options.length - 1);
  suggestionsEl.replaceChildren(...options.map((o, i) => el('li', {
    id: `suggestion-${i}`, role: 'option', 'aria-selected': String(i === selected),
    onmousedown: (e) => { e.preventDefault(); choose(i); },
  }, o.label)));
  suggestionsEl.hidden = false;
  input.setAttribute('aria-expanded', 'true');
  if (selected >= 0) input.setAttribute('aria-activedescendant', `suggestion-${selected}`);
}

function choose(i) {
  input.value = options[i].value;
  closeSuggestions();
  input.focus();
  showSuggestions();
}

input.addEventListener('input', () => { selected = -1; showSuggestions(); });
input.addEventListener('keydown', (event) => {
  if (suggestionsEl.hidden) return;
  if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
    event.preventDefault();
    const n = options.length;
    selected = (selected + (event.key === 'ArrowDown' ? 1 : n - 1)) % n;
    showSuggestions();
  } else if (event.key === 'Tab') {
    event.preventDefault();
    choose(selected >= 0 ? selected : 0);
  } else if (event.key === 'Enter' && selected >= 0) {
    event.preventDefault();
    choose(selected);
  } else if (event.key === 'Escape') {
    closeSuggestions();
  }
});

async function start() {
  // Ready for typing from the first moment, after "/journey " (typed before this, keys went in front of it).
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
  try {
    completions = await call('completions');
    // Someone quick typed before the completions arrived: suggest for what is there now, not at their next key.
    if (document.activeElement === input && input.value.trim() !== '/journey') showSuggestions();
    render((await call('messages')).messages);
  } catch (err) {
    messagesEl.append(el('p', { role: 'alert' }, `The app is not answering: ${err.message}`));
  }
}

start();
